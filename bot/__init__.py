"""nuanxin (暖新): one chatbot core for delivery riders, served on Telegram, WeCom and a console."""
