"""The rules of the contact center, and nothing else.

Pure Python: no I/O, no clock reads (time is always an argument, in seconds
since the epoch, UTC), no framework imports. Every change returns typed
domain events; the service layer persists them and publishes them after
commit.
"""
