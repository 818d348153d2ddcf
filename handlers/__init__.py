"""Conversations. Flows speak only through ``bot.events`` and ``storage``; never a platform."""
