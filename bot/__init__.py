"""nuanxin (暖新): one chatbot core for delivery riders, on Telegram, WeCom and a console."""
