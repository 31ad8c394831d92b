# MentorKd.Platform — the commands a newcomer needs. Only the .NET SDK is required.
SHELL := /bin/bash
DOTNET ?= dotnet
CONFIGURATION ?= Release
# The CLI's targets build it first (only it and what it references: the tests and benchmarks are not needed to run).
CLI := $(DOTNET) run --no-build --project src/MentorKd.Cli -c $(CONFIGURATION) --
RUN_DIR ?= runs/demo

.PHONY: run run-fdd experiment lm-demo test test-infra battery faults compose-smoke up down bench bench-pretrained bench-compare bench-spin bench-softlabels bench-teacher bench-load bench-soak build build-cli clean

## run: the main job: a whole Mentor-KD run through the five services embedded in one process, ending with the comparison
## table; then FDD in reduced form (one round beside its baseline, configs/fdd.last-letter.one-round.json). With CONFIG:
## that run alone
run: build-cli
	$(CLI) run $(if $(CONFIG),--config $(CONFIG)) $(if $(OUT),--out $(OUT))
	$(if $(CONFIG),,$(CLI) run --config configs/fdd.last-letter.one-round.json $(if $(OUT),--out $(OUT)-fdd))

## run-fdd: feedback-driven distillation alone on mixed-length last letters, three rounds beside the baseline that gets as
## many problems at the same teacher spend without feedback (configs/fdd.last-letter.json)
run-fdd: build-cli
	$(CLI) run --config $(or $(CONFIG),configs/fdd.last-letter.json) $(if $(OUT),--out $(OUT))

## experiment: an experiment (seeds × a grid of settings) through the five services embedded, with its report:
## EXPERIMENT=configs/experiments/<name>.json (default: the tiny one); run again to reuse the runs it has.
## FIXED_THREAD_SHARE=1: students bit-reproducible whichever arms train beside them (slower)
EXPERIMENT ?= configs/experiments/tiny.json
experiment: build-cli
	$(CLI) experiment --config $(EXPERIMENT) $(if $(OUT),--out $(OUT)) $(if $(FIXED_THREAD_SHARE),--fixed-thread-share)

## lm-demo: train and sample a ~1M-parameter character model on samples/tiny-corpus.txt
lm-demo: build-cli
	$(CLI) lm train --data samples/tiny-corpus.txt --out $(RUN_DIR)/model --steps 600 --layers 4 --heads 4 --embd 144 --context 128 --fresh
	$(CLI) lm generate --model $(RUN_DIR)/model --prompt "The mentor" --prompt "Small models" --max-new-tokens 100

# Integration tests run RabbitMQ and an S3 server in containers (Testcontainers). test-infra gets a Docker engine
# and the images when they are missing; these settings point Testcontainers at them.
export MENTORKD_RABBITMQ_IMAGE ?= local/mentorkd-rabbitmq:test
export MENTORKD_S3_IMAGE ?= local/mentorkd-s3rver:test
export DOCKER_API_VERSION ?= 1.41
export TESTCONTAINERS_RYUK_DISABLED ?= true
export TESTCONTAINERS_HOST_OVERRIDE ?= 127.0.0.1

## test: every test in the solution (after preparing the integration tests' Docker engine and images), then the
## compose smoke run. The test projects run side by side and the integration tests start several service processes,
## all on the same cores: libgomp's default spinning makes such processes wait on each other (see make bench-spin).
test: export GOMP_SPINCOUNT ?= 1000
test: test-infra
	$(DOTNET) test MentorKd.Platform.sln -c $(CONFIGURATION) --logger "console;verbosity=normal"
	CONFIGURATION=$(CONFIGURATION) bash infra/compose-smoke.sh

## battery: the bad-input battery (malformed and hostile requests to the five services and the Runs API) with its table
battery: build
	$(DOTNET) test tests/MentorKd.Services.Tests -c $(CONFIGURATION) --no-build --filter "FullyQualifiedName~BadInputBatteryTests" --logger "console;verbosity=detailed"

## faults: runs under faults (S3 away mid-upload, mentor-server restarted mid-augmentation, broker restarted, a trainer
## killed, the state machine's process killed, the teacher endpoint down a minute, every command and result delivered
## twice and late), one FAULT line each
faults: build test-infra
	set -o pipefail; $(DOTNET) test tests/MentorKd.Services.Tests -c $(CONFIGURATION) --no-build --logger "console;verbosity=detailed" \
		--filter "FullyQualifiedName~FaultyTeacherRunTests|FullyQualifiedName~DuplicateDeliveryTests" | grep -E "FAULT \||^\s+(Passed|Failed) "
	set -o pipefail; $(DOTNET) test tests/MentorKd.Integration.Tests -c $(CONFIGURATION) --no-build --logger "console;verbosity=detailed" \
		--filter "FullyQualifiedName~InfrastructureFaultTests|FullyQualifiedName~A_run_survives_the_trainer_replica|FullyQualifiedName~A_run_carries_on_by_itself" | grep -E "FAULT \||^\s+(Passed|Failed) "

## compose-smoke: docker-compose.yml up on local images, a tiny run pushed through the five containers, down
compose-smoke: build
	CONFIGURATION=$(CONFIGURATION) bash infra/compose-smoke.sh

COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)

## up / down: the distributed platform with docker-compose (official images; needs a registry)
up:
	bash infra/generate-env.sh
	$(COMPOSE) -p mentorkd up -d --build

down:
	$(COMPOSE) -p mentorkd down

## test-infra: a Docker engine and the test images (installs docker.io, starts dockerd, builds images as needed)
test-infra:
	bash infra/test-images/prepare.sh

## bench: training and generation throughput (see bench/README.md)
bench:
	$(DOTNET) run --project bench/MentorKd.Benchmarks -c $(CONFIGURATION) --

## bench-pretrained: Llama-family models at SmolLM2-135M's and Qwen2.5-0.5B's shapes: folder load time and resident memory, decode and train tokens/s
bench-pretrained:
	$(DOTNET) run --project bench/MentorKd.Benchmarks -c $(CONFIGURATION) -- pretrained --seconds 3

## bench-compare: ours against the same GPT-2-shaped model in PyTorch (installs Debian's python3-torch when missing):
## training step, distillation step, cached greedy decoding at batch 1 and 16, peak memory, as ratios
bench-compare:
	DOTNET=$(DOTNET) CONFIGURATION=$(CONFIGURATION) bash bench/compare.sh $(ARGS)

## bench-spin: a training step in one process alone and in two at once, under libgomp's default spinning, the spin count
## docker-compose.yml sets and passive waiting (several model services on one host)
bench-spin:
	DOTNET=$(DOTNET) CONFIGURATION=$(CONFIGURATION) bash bench/spin.sh $(ARGS)

## bench-softlabels: a student's distillation tokens/s with the mentor in the trainer's process against the mentor-server over gRPC and a sparse store
bench-softlabels:
	$(DOTNET) run --project bench/MentorKd.Benchmarks -c $(CONFIGURATION) -- softlabels --threads 2

## bench-teacher: the teacher-gateway's LLM path: calls/s, retries under faults, ledger bytes, a kill mid-annotation
bench-teacher:
	$(DOTNET) run --project bench/MentorKd.Benchmarks -c $(CONFIGURATION) -- teacher

## bench-load: the embedded platform under load: Generate bursts on the mentor-server, 20 runs at once from 4 clients with
## per-client limits, 100 WatchRun streams; memory, threads and open files before and after
bench-load:
	$(DOTNET) run --project bench/MentorKd.Benchmarks -c $(CONFIGURATION) -- load --threads 2

## bench-soak: 10 (RUNS=n) small runs back to back in one embedded platform, with memory, threads and open files after each
bench-soak:
	$(DOTNET) run --project bench/MentorKd.Benchmarks -c $(CONFIGURATION) -- soak --runs $(or $(RUNS),10) --threads 2

build:
	$(DOTNET) build MentorKd.Platform.sln -c $(CONFIGURATION) -v quiet -nologo

build-cli:
	$(DOTNET) build src/MentorKd.Cli -c $(CONFIGURATION) -v quiet -nologo

clean:
	$(DOTNET) clean MentorKd.Platform.sln -v quiet
	rm -rf runs
