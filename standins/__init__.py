"""Stand-ins for outside services that cannot run here: real HTTP servers speaking their protocols; nothing here imports Headwater's own packages."""
