"""The trainer's command-line arguments, shared by `python -m trainer.train` and `corpus train`
(kept apart from the trainer so that `corpus` parses its arguments without importing torch)."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shards", required=True, metavar="DIR", help="from `corpus shard`, or llm.c's")
    p.add_argument("--config", required=True, metavar="YAML", help="e.g. configs/trainer/tiny.yaml")
    p.add_argument("--max-steps", type=int, help="the schedule's length (default: the config's)")
    p.add_argument("--stop-after", type=int, metavar="K", help="stop at step K with a checkpoint")
    p.add_argument(
        "--seed",
        type=int,
        metavar="N",
        help="the init's and the batches' seed (default: the config's); eval windows stay put",
    )
    p.add_argument(
        "--eval-interval",
        type=int,
        metavar="N",
        help="steps between evaluations (default: config's)",
    )
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint")
    p.add_argument("--out", default="runs/train", metavar="DIR")
    p.add_argument("--device", help="cpu, cuda, cuda:1 (default: cuda when present)")
    p.add_argument(
        "--eval-text", nargs="+", metavar="FILE", help="held-out texts (plain or JSONL) to evaluate"
    )
    p.add_argument("--tokenizer", metavar="JSON", help="for bits per byte (default: shards.json's)")
