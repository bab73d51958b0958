TRAIN_FAST = {"max_epochs": 3, "enable_progress_bar": False}
