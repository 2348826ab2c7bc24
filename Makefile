.PHONY: run test check bench bench-engine bench-http bench-auth
run:
	scripts/run
test:
	scripts/test
check:
	scripts/check
bench: bench-engine bench-http bench-auth
bench-engine:
	scripts/setup runtime && .venv/bin/mamori bench engine
bench-http:
	scripts/setup runtime && .venv/bin/mamori bench http
bench-auth:
	scripts/setup runtime && .venv/bin/mamori bench auth
