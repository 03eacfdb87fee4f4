"""The `ablate` stage: train the same model on what each of several stages kept, and compare.

Each arm is the kept documents of one stage (`dedup`) or of several together
(`raw=web+books`). The comparison is fair by construction:
  decontaminate  per input part: drop documents sharing a 13-word n-gram with the eval texts
                 (`filters/decontam.py`); each arm's count is reported, the rows published in
                 `contaminated`
  tokenizer      the one given, or a byte-level BPE trained on a seeded sample of the union of
                 the arms' parts (the `tokenizer` stage's phases)
  shard-ARM      per arm, the `shard` stage's phases with a token budget: every arm's train split
                 holds about `tokens` tokens, a smaller arm repeated and a larger one sampled by
                 whole documents (the repeat factor is reported)
  train          arms x seeds runs of the trainer, each `tokens` tokens of steps under the same
                 config and schedule; run k of every arm has seed k (init and batch order), and
                 every run evaluates the same windows of each eval text, in bits per byte
Then `results.json` holds every run's curve and final bpb, and per eval text each arm's mean ±
std and paired difference to the first arm (`pipelines/ablation.py`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from corpus import storage
from corpus.checksums import sha256_file
from corpus.dataset import read_part_file, write_json_atomic
from corpus.errors import CorpusError
from corpus.heldout import read_documents
from filters.decontam import index_of
from pipelines.ablation import summarize, table
from pipelines.params import ConfigError
from pipelines.phases import Dest, InputPart, files_by_dest
from pipelines.shard_plan import ShardParams
from pipelines.shard_stage import Shard
from pipelines.stages import GlobalStage
from pipelines.tokenizer_stage import TOKENIZER_FILE, TokenizerParams, TrainTokenizer
from pipelines.train_stage import _local_shards, _trainer_config, run_trainer

RESULTS = "results.json"
PATHS = ("shards", "tokenizer")  # of a TrainArm: where its data is, not what
CURVE_POINTS = 5  # evaluations along a run at least, besides its first and last step


ARM_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")  # a folder of the ablation, as stage names are


def parse_arm(text: str) -> tuple[str, list[str]]:
    """`dedup` -> ("dedup", ["dedup"]); `raw=web+books` -> ("raw", ["web", "books"])."""
    name, sep, stages = text.partition("=")
    name = name.strip()
    parts = [s.strip() for s in (stages if sep else name).split("+")]
    if not name or not all(parts):
        raise ValueError(f"an arm is STAGE or NAME=STAGE+STAGE..., got {text!r}")
    if not ARM_NAME.match(name):
        raise ValueError(f"an arm's name must be lowercase letters, digits, - or _, got {name!r}")
    return name, parts


@dataclass(frozen=True)
class AblateParams:
    arms: list[str] = field(default_factory=list)  # STAGE or NAME=STAGE+STAGE, first: baseline
    eval: list[str] = field(default_factory=list)  # held-out texts: plain text or JSONL
    tokens: int = 2_000_000  # trained per run; each arm's data repeated or sampled to it
    seeds: int = 3  # runs per arm; run k of every arm has seed k
    config: str = "configs/trainer/tiny.yaml"
    tokenizer: str | None = None  # a tokenizer.json or an earlier tokenizer stage (else trained)
    vocab_size: int = 8192  # of the tokenizer trained when none is given
    tokenizer_bytes: int = 64 << 20  # text it is trained on: a seeded sample of the arms' union
    decontaminate: bool = True  # drop training documents sharing an n-gram with the eval texts
    ngram: int = 13
    parallel: int = 1  # trainings at once, the cores split between them
    seed: int = 0  # of the tokenizer's sample and each arm's shuffle and sample

    def __post_init__(self):
        if not self.arms:
            raise ValueError("arms must name at least one stage")
        names = [parse_arm(a)[0] for a in self.arms]
        if len(set(names)) < len(names):
            raise ValueError(f"arms: two arms are called {max(names, key=names.count)!r}")
        if not self.eval:
            raise ValueError("eval must name at least one held-out text")
        names = [Path(e).name for e in self.eval]
        if len(set(names)) < len(names):  # results are by file name
            raise ValueError(f"eval: two files are called {max(names, key=names.count)}")
        if self.tokens < 1 or self.seeds < 1 or self.parallel < 1 or self.ngram < 1:
            raise ValueError("tokens, seeds, parallel and ngram must be at least 1")

    def arm_list(self) -> list[tuple[str, list[str]]]:
        return [parse_arm(a) for a in self.arms]


def input_stages(params: AblateParams) -> list[str]:
    """The stages whose kept parts the arms read, each once, in order of first mention."""
    return list(dict.fromkeys(s for _, stages in params.arm_list() for s in stages))


@dataclass(frozen=True)
class CheckPart:
    part: InputPart


@dataclass(frozen=True)
class TrainArm:
    arm: str
    seed: int
    shards: str
    tokenizer: str
    steps: int
    data: str  # the SHA-256 of the arm's shards and the tokenizer: new data, a new run


class Ablate(GlobalStage):
    """Train the same model on what each of several stages kept; compare bits per byte."""

    Params = AblateParams
    output_datasets = ("contaminated",)
    produces_documents = False
    unhashed = ("parallel",)

    @classmethod
    def reads(cls, params) -> list[str]:
        return input_stages(params)

    @classmethod
    def summary(cls, out_dir: Path) -> str | None:
        try:
            return table(json.loads(storage.read_text(out_dir / RESULTS)))
        except FileNotFoundError:
            return None

    @classmethod
    def check_refs(cls, params, earlier: dict[str, str], where: str) -> None:
        for name, stages in params.arm_list():
            for stage in stages:
                if stage not in earlier:
                    known = ", ".join(earlier) or "none"
                    raise ConfigError(
                        f"{where}.arms: arm '{name}' names '{stage}', which is no earlier stage "
                        f"(earlier stages: {known})"
                    )
        for text in params.eval:
            if not storage.is_file(text):
                raise ConfigError(f"{where}.eval: no such file: {text}")
        if _trainer_config(params.config) is None:
            raise ConfigError(f"{where}.config: no such trainer config: {params.config}")
        ref = params.tokenizer
        if ref is not None and earlier.get(ref) != "tokenizer" and not storage.is_file(ref):
            raise ConfigError(
                f"{where}.tokenizer: '{ref}' is neither an earlier tokenizer stage nor a file"
            )

    @classmethod
    def bind(cls, params: dict, run_dir: Path) -> dict:
        ref = params.get("tokenizer")
        if ref is not None and not storage.is_file(ref):
            ref = run_dir / ref / TOKENIZER_FILE
        return {
            **params,
            "eval": [str(storage.absolute(t)) for t in params["eval"]],
            "config": str(_trainer_config(params["config"]) or params["config"]),
            "tokenizer": None if ref is None else str(storage.absolute(ref)),
        }

    @classmethod
    def fingerprint_files(cls, params: dict) -> list[Path]:
        files = [Path(t) for t in params["eval"]] + [Path(params["config"])]
        if params.get("tokenizer"):
            files.append(Path(params["tokenizer"]))
        return [f for f in files if storage.is_file(f)]

    # the driver ----------------------------------------------------------------------------

    def drive(self, driver, tasks) -> tuple[list[dict], dict]:
        p = self.params
        out_dir = Path(driver.job.out_dir)
        arms = p.arm_list()
        stage_tasks = self._by_stage(tasks)
        checked = driver.run_payloads(
            "decontaminate",
            [CheckPart(InputPart(t.input_path, t.fingerprint)) for t in tasks],
            keys=[t.key for t in tasks],
            show=True,
        )
        by_key = {r["key"]: r for r in checked}
        originals = {t.key: InputPart(t.input_path, t.fingerprint) for t in tasks}
        arm_parts, facts = {}, []
        for name, stages in arms:
            keys = [t.key for s in stages for t in stage_tasks[s]]
            docs = sum(by_key[k]["stats"]["docs_in"] for k in keys)
            dirty = sum(by_key[k]["stats"]["contaminated"] for k in keys)
            if docs - (dirty if p.decontaminate else 0) == 0:
                raise CorpusError(f"arm '{name}' ({'+'.join(stages)}) has no documents to train on")
            if dirty:
                action = "removed before training" if p.decontaminate else "NOT removed"
                driver.log(
                    f"[{driver.job.name}] arm {name}: {dirty:,} document(s) share a "
                    f"{p.ngram}-gram with the eval texts: {action}"
                )
            parts = [self._clean_part(by_key[k]) or originals[k] for k in keys]
            arm_parts[name] = (keys, parts)
            facts.append(
                {"name": name, "stages": stages, "docs": docs - dirty, "contaminated": dirty}
            )
        tokenizer = p.tokenizer or self._train_tokenizer(driver, arm_parts, out_dir)
        self._check_eval(tokenizer)
        steps = self._steps()
        tok_sum = sha256_file(storage.local_copy(tokenizer))
        shards, data = {}, {}
        for (name, _), arm in zip(arms, facts, strict=True):
            keys, parts = arm_parts[name]
            arm_dir = out_dir / name / "shards"
            sub = self._shard(tokenizer)
            records, stats = sub.drive(_Prefixed(driver, f"shard-{name}"), _tasks(keys, parts))
            sub.publish(records, arm_dir)
            shard_sums = sorted(f["sha256"] for f in files_by_dest(records)[Dest("shard")])
            data[name] = hashlib.sha256(" ".join([tok_sum, *shard_sums]).encode()).hexdigest()
            train = stats["counters"]["train_tokens"]
            unique = stats["counters"]["tokens_in"]
            if not p.decontaminate:
                arm["docs"] = stats["docs_in"]
            # each run trains steps x batch tokens of the arm: on average, each of its tokens
            # that many times
            seen = steps * self._config().total_batch_tokens
            arm.update(tokens=unique, train_tokens=train, repeat=round(seen / unique, 4))
            shards[name] = str(arm_dir)
        runs = [
            TrainArm(name, seed, shards[name], tokenizer, steps, data[name])
            for name, _ in arms
            for seed in range(p.seeds)
        ]
        trained = driver.run_payloads(
            "train",
            runs,
            keys=[f"{r.arm}-{r.seed}" for r in runs],
            on_driver=True,
            parallel=p.parallel,
        )
        results = self._results(facts, runs, trained, tokenizer, steps)
        self._published = results
        stats = {
            "docs_in": sum(r["stats"]["docs_in"] for r in checked),
            "docs_out": sum(r["stats"]["docs_in"] - r["stats"]["contaminated"] for r in checked),
            "docs_rejected": sum(r["stats"]["contaminated"] for r in checked),
            "rejected": {"contaminated": sum(r["stats"]["contaminated"] for r in checked)},
            "counters": {"runs": len(runs), "train_s": sum(r["stats"]["train_s"] for r in trained)},
        }
        if not stats["rejected"]["contaminated"] or not p.decontaminate:  # counted, not dropped
            stats["rejected"], stats["docs_rejected"] = {}, 0
            stats["docs_out"] = stats["docs_in"]
        return checked + trained, stats

    def _by_stage(self, tasks) -> dict[str, list]:
        """The input tasks of each stage the arms read: a part of stage S is RUN/S/kept/PART."""
        out: dict[str, list] = {s: [] for s in input_stages(self.params)}
        for t in tasks:
            out[Path(t.input_path).parent.parent.name].append(t)
        return out

    def _clean_part(self, record: dict) -> InputPart | None:
        """A part's decontaminated copy (None when the arms train on the parts as they are)."""
        if not self.params.decontaminate:
            return None
        (f,) = files_by_dest([record])[Dest("clean")]
        return InputPart(str(Path(f["dir"]) / f["name"]), f["sha256"])

    def _train_tokenizer(self, driver, arm_parts, out_dir: Path) -> str:
        union = {
            k: part
            for keys, parts in arm_parts.values()
            for k, part in zip(keys, parts, strict=True)
        }
        sub = self._tokenizer_stage()
        keys = sorted(union)
        records, _ = sub.drive(
            _Prefixed(driver, "tokenizer"), _tasks(keys, [union[k] for k in keys])
        )
        sub.publish(records, out_dir)
        return str(out_dir / TOKENIZER_FILE)

    def _tokenizer_stage(self) -> TrainTokenizer:
        p = self.params
        return TrainTokenizer(
            TokenizerParams(p.vocab_size, max_bytes=p.tokenizer_bytes, seed=p.seed)
        )

    def _shard(self, tokenizer: str) -> Shard:
        p = self.params
        return Shard(ShardParams(tokenizer=tokenizer, val_tokens=0, seed=p.seed, tokens=p.tokens))

    def _config(self):
        from trainer.config import load_config

        return load_config(self.params.config)

    def _steps(self) -> int:
        return max(1, math.ceil(self.params.tokens / self._config().total_batch_tokens))

    def _check_eval(self, tokenizer: str) -> None:
        """Every eval text holds one window at least: a shorter one is one line."""
        from corpus.tokenizer import load_tokenizer
        from trainer.evaluation import token_bytes

        tok, _ = load_tokenizer(storage.local_copy(tokenizer))
        if token_bytes(tok) is None:
            raise CorpusError(
                f"tokenizer {tokenizer}: not a byte-level BPE, so no bits per byte to compare"
            )
        seq_len = self._config().seq_len
        for path in self.params.eval:
            docs = [d for d in read_documents(storage.local_copy(path), "eval") if d]
            n = sum(len(e.ids) + 1 for e in tok.encode_batch(docs))
            if n < seq_len + 1:
                raise CorpusError(
                    f"eval {path}: {n:,} tokens, shorter than one window of the trainer config "
                    f"({seq_len + 1:,}); give a longer held-out text"
                )

    def _results(self, facts, runs, trained, tokenizer: str, steps: int) -> dict:
        p = self.params
        batch = self._config().total_batch_tokens
        names = [Path(t).name for t in p.eval]
        out_runs = []
        by_key = {r["key"]: r for r in trained}
        for run in runs:
            rec = by_key[f"{run.arm}-{run.seed}"]
            (f,) = files_by_dest([rec])[Dest("metrics")]
            rows = [
                json.loads(x) for x in storage.read_text(Path(f["dir"]) / f["name"]).splitlines()
            ]
            curve = [
                {
                    "tokens": r["step"] * batch,  # trained before this evaluation
                    "bpb": {n: e["bpb"] for n, e in r["eval"].items()},
                }
                for r in rows
                if r.get("eval")
            ]
            out_runs.append(
                {
                    "arm": run.arm,
                    "seed": run.seed,
                    "bpb": curve[-1]["bpb"],
                    "loss": {n: e["loss"] for n, e in rows[-1]["eval"].items()},
                    "curve": curve,
                }
            )
        results = {
            "tokens": p.tokens,
            "steps": steps,
            "seeds": list(range(p.seeds)),
            "config": p.config,
            "tokenizer": tokenizer,
            "decontaminated": p.decontaminate,
            "ngram": p.ngram,
            "eval": names,
            "arms": facts,
            "runs": out_runs,
        }
        results["summary"] = summarize(results)
        return results

    def unpublish(self, out_dir: Path) -> None:
        storage.unlink(out_dir / RESULTS)

    def publish(self, records: list[dict], out_dir: Path) -> list[Path]:
        target = out_dir / RESULTS
        write_json_atomic(target, self._published)
        return [target]

    # the tasks -----------------------------------------------------------------------------

    def run_task(self, phase: str, payload, out) -> dict:
        if phase == "decontaminate":
            return self._task_check(payload.part, out)
        if phase == "train":
            return self._task_train(payload, out)
        prefix, sub_phase = phase.split(".", 1)
        if prefix == "tokenizer":
            return self._tokenizer_stage().run_task(sub_phase, payload, out)
        arm = prefix.removeprefix("shard-")
        tokenizer = self.params.tokenizer or str(Path(out.job.out_dir) / TOKENIZER_FILE)
        out.job = dataclasses.replace(out.job, out_dir=str(Path(out.job.out_dir) / arm / "shards"))
        return self._shard(tokenizer).run_task(sub_phase, payload, out)

    def _task_check(self, part: InputPart, out) -> dict:
        p = self.params
        table = read_part_file(part.path, part.sha256)
        paths = [str(storage.local_copy(t)) for t in p.eval]
        result = index_of(paths, p.ngram).decontaminate(table)
        if p.decontaminate:
            out.write(Dest("clean"), result.kept)
        out.write(Dest("contaminated"), result.rejected)
        return {"docs_in": table.num_rows, "contaminated": result.rejected.num_rows}

    def _task_train(self, run: TrainArm, out) -> dict:
        from trainer.checkpoint import checkpoint_step, latest_checkpoint

        p = self.params
        folder = storage.local_path(Path(out.job.out_dir) / run.arm / f"seed-{run.seed}")
        folder.mkdir(parents=True, exist_ok=True)
        marker = folder / ".task"  # what the checkpoints here were made for
        task = self._run_key(run)
        if not marker.is_file() or marker.read_text() != task:
            for stale in [*folder.glob("ckpt_*.pt"), folder / "metrics.jsonl"]:
                stale.unlink(missing_ok=True)
            marker.write_text(task)
        final = latest_checkpoint(folder)
        if (
            final
            and checkpoint_step(final) == run.steps + 1
            and (folder / "metrics.jsonl").is_file()
        ):
            # trained before, by an ablation with other seeds or another stage config: the same run
            out.commit_file(Dest("metrics"), folder / "metrics.jsonl")
            return {"train_s": 0.0}
        shards, _ = _local_shards(run.shards)
        tokenizer = str(storage.local_copy(run.tokenizer))
        cmd = [sys.executable, "-m", "trainer.train", "--shards", shards, "--config", p.config]
        # an evaluation comes before its step's update: the last, at step `steps`, sees the
        # whole budget trained (the update after it is the one step more it costs)
        cmd += ["--out", str(folder), "--max-steps", str(run.steps + 1), "--seed", str(run.seed)]
        # the config's evaluations, and at least CURVE_POINTS along a short run
        every = min(self._config().eval_interval or run.steps, max(1, run.steps // CURVE_POINTS))
        cmd += ["--eval-interval", str(every)]
        cmd += ["--tokenizer", tokenizer, "--eval-text"]
        cmd += [str(storage.local_copy(t)) for t in p.eval]
        if any(folder.glob("ckpt_*.pt")):  # a killed run goes on from its checkpoint
            cmd.append("--resume")
        threads = max(1, (os.cpu_count() or 1) // p.parallel) if p.parallel > 1 else None
        started = time.perf_counter()
        # the arms' shards hold no val split: the eval texts are what is compared
        label = f"{out.job.name} {run.arm} seed {run.seed}"
        run_trainer(cmd, label, threads, skip=("val: no val shards",))
        final = latest_checkpoint(folder)
        for older in folder.glob("ckpt_*.pt"):  # the final model stays, for a look at it
            if older != final:
                older.unlink()
        out.commit_file(Dest("metrics"), folder / "metrics.jsonl")
        return {"train_s": round(time.perf_counter() - started, 3)}

    def _run_key(self, run: TrainArm) -> str:
        """What decides a run's metrics: its arm's data, seed and steps, the trainer config and
        the eval texts; not the stage's other parameters (more seeds reuse the runs done)."""
        doc = {
            # the content of its shards and tokenizer (`data`), wherever the run folder is
            "run": {k: v for k, v in dataclasses.asdict(run).items() if k not in PATHS},
            "config": sha256_file(Path(self.params.config)),
            "eval": [[Path(t).name, sha256_file(storage.local_copy(t))] for t in self.params.eval],
        }
        return json.dumps(doc, sort_keys=True)


class _Prefixed:
    """A phase driver as a sub-stage (the tokenizer, an arm's shards) sees it: its phases
    named under a prefix, so two arms' phases of one name are apart."""

    def __init__(self, driver, prefix: str):
        self.driver, self.prefix = driver, prefix
        self.job, self.log = driver.job, driver.log

    def run_payloads(self, phase, payloads, keys=None, show=False, on_driver=False, parallel=1):
        return self.driver.run_payloads(
            f"{self.prefix}.{phase}", payloads, keys, show, on_driver, parallel
        )


@dataclass(frozen=True)
class _Task:
    key: str
    input_path: str
    fingerprint: str


def _tasks(keys: list[str], parts: list[InputPart]) -> list[_Task]:
    return [_Task(k, part.path, part.sha256) for k, part in zip(keys, parts, strict=True)]
