"""AMI listener: Asterisk events → `CallTracker` → one `CompletedCall` per call → a `CallSink`.

The package's modules are imported one by one (`ami_listener.calls`, `ami_listener.service`, …):
this file loads nothing, so a reader of the call records does not pull in the connection.
See README.md in this folder for the decisions and the Asterisk configuration.
"""
