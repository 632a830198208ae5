"""The job states' names as plain strings, and the groups the scheduler thinks in: the one
source that ``states.JobState`` and its sets, and every SQL state list, are built from.

Plain strings and tuples, no enum: the statement modules build their SQL from these at
import time, and ``scns submit``, which imports them, does not load ``enum`` (~3 ms).
"""

PENDING = "PENDING"
CONFIGURING = "CONFIGURING"  # resources allocated, process not started yet
RUNNING = "RUNNING"
COMPLETED = "COMPLETED"
FAILED = "FAILED"
CANCELLED = "CANCELLED"
TIMEOUT = "TIMEOUT"
NODE_FAIL = "NODE_FAIL"
OUT_OF_MEMORY = "OUT_OF_MEMORY"

LIVE_NAMES = (PENDING, CONFIGURING, RUNNING)  # not ended yet
ALLOCATED_NAMES = (CONFIGURING, RUNNING)  # hold an allocation and its cores
TERMINAL_NAMES = (COMPLETED, FAILED, CANCELLED, TIMEOUT, NODE_FAIL, OUT_OF_MEMORY)
