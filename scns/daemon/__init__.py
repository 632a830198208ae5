"""The node daemon: schedules (when it holds the leader lease) and runs jobs."""
