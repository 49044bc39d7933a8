"""Models arrive with the retention issue."""
