"""sample-api: a small HTTP API delivered by the platform through Git, CI and a canary Rollout."""
