"""Discovery plugins of the PQC inventory: each scans one kind of target (an SSH server, files on disk,
configuration files ...) and returns a :class:`mamori.pqc.model.ScanResult`."""
