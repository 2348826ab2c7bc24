.PHONY: run test check bench bench-engine bench-http bench-auth bench-stuffing bench-mail bench-pqc bench-timeline bench-console bench-aml
run:
	scripts/run
test:
	scripts/test
check:
	scripts/check
bench: bench-engine bench-http bench-auth bench-stuffing bench-mail bench-pqc bench-timeline bench-console bench-aml
bench-engine:
	scripts/setup runtime && .venv/bin/mamori bench engine
bench-http:
	scripts/setup runtime && .venv/bin/mamori bench http
bench-auth:
	scripts/setup runtime && .venv/bin/mamori bench auth
bench-stuffing:
	scripts/setup runtime && .venv/bin/mamori bench stuffing
bench-mail:
	scripts/system-deps && scripts/setup runtime && .venv/bin/mamori bench mail
bench-pqc:
	scripts/system-deps && scripts/setup runtime && .venv/bin/mamori bench pqc --install-peers
bench-timeline:
	scripts/setup runtime && .venv/bin/mamori bench timeline
bench-console:
	scripts/setup runtime && .venv/bin/mamori bench console
bench-aml:
	scripts/setup runtime && .venv/bin/mamori bench aml
