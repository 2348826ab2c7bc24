.PHONY: run test check bench bench-engine bench-http
run:
	scripts/run
test:
	scripts/test
check:
	scripts/check
bench: bench-engine bench-http
bench-engine:
	scripts/setup runtime && .venv/bin/mamori bench engine
bench-http:
	scripts/setup runtime && .venv/bin/mamori bench http
