"""The web console: server-rendered pages for secretaries and admins, served by the bot's own
process, acting through the same core actions as the chat (:mod:`handlers.desk`)."""
