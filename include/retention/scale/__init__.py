"""The whole weekly cycle at a telecom's size, stage by stage: `python -m retention.scale.benchmark`."""
