"""The shared ground: settings, phone numbers, working time, channel and dialplan names."""
