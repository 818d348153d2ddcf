"""Platform adapters. The only place that knows Telegram, WeCom or a terminal."""
