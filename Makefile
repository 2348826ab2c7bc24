.PHONY: run test check bench bench-engine bench-http bench-auth bench-stuffing
run:
	scripts/run
test:
	scripts/test
check:
	scripts/check
bench: bench-engine bench-http bench-auth bench-stuffing
bench-engine:
	scripts/setup runtime && .venv/bin/mamori bench engine
bench-http:
	scripts/setup runtime && .venv/bin/mamori bench http
bench-auth:
	scripts/setup runtime && .venv/bin/mamori bench auth
bench-stuffing:
	scripts/setup runtime && .venv/bin/mamori bench stuffing
