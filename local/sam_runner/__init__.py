"""A SAM-template runner: reads template.yaml, provisions it into an AWS emulator, serves its API
and event sources from Lambda runtimes. It knows nothing of the shop (tests/unit/test_layout.py)."""
