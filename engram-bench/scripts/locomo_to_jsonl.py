#!/usr/bin/env python3
"""Converts LoCoMo (snap-research/locomo) into the quality benchmark's JSONL format.

Input: data/locomo10.json (a list of samples with sample_id, conversation and qa) or the folder
unzipped from data/locomo10.zip (data/multimodal_dialog/locomo10_v2/NN.json, one conversation each,
NN being the number in conv-NN). Output: one line per conversation (see docs/benchmarks.md):

  {"space": "conv-26", "episodes": [{"id": "D1:3", "content": "...", "observed_at": "...",
   "metadata": {...}}, ...], "questions": [{"id": "conv-26/q0", "text": "...",
   "evidence": ["D1:3"], "category": "temporal"}, ...]}

By default only the development conversations are written: the first five in file order
(conv-26, conv-30, conv-41, conv-42, conv-43). --heldout writes the other five instead; they are
the held-out evaluation and must not be used while tuning.

Usage: locomo_to_jsonl.py INPUT OUT.jsonl [--heldout]
"""
import datetime
import json
import os
import re
import sys

DEV = ["conv-26", "conv-30", "conv-41", "conv-42", "conv-43"]
# LoCoMo's QA categories (as used by its evaluation code and later papers).
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}


def load(path):
    """The samples in file order, as (sample_id, conversation, qa)."""
    if os.path.isdir(path):
        folder = path
        nested = os.path.join(path, "data", "multimodal_dialog", "locomo10_v2")
        if os.path.isdir(nested):
            folder = nested
        names = sorted(
            (n for n in os.listdir(folder) if re.fullmatch(r"\d+\.json", n)),
            key=lambda n: int(n[:-5]),
        )
        out = []
        for n in names:
            with open(os.path.join(folder, n), encoding="utf-8") as f:
                c = json.load(f)
            out.append(("conv-" + n[:-5], c, c.get("qa", [])))
        return out
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    return [(s["sample_id"], s["conversation"], s.get("qa", [])) for s in data]


def when(text):
    """'1:56 pm on 8 May, 2023' as an ISO-8601 UTC instant."""
    t = datetime.datetime.strptime(text.strip(), "%I:%M %p on %d %B, %Y")
    return t.replace(tzinfo=datetime.timezone.utc)


def convert(sample_id, conversation, qa):
    episodes = []
    sessions = sorted(
        int(m.group(1))
        for k in conversation
        if (m := re.fullmatch(r"session_(\d+)", k)) and isinstance(conversation[k], list)
    )
    for s in sessions:
        start = when(conversation["session_%d_date_time" % s])
        for i, turn in enumerate(conversation["session_%d" % s]):
            content = "%s: %s" % (turn["speaker"], turn.get("text", ""))
            if turn.get("blip_caption"):
                content += " [shares %s]" % turn["blip_caption"]
            at = start + datetime.timedelta(seconds=30 * i)  # keeps the turns in order
            episodes.append(
                {
                    "id": turn["dia_id"],
                    "content": content,
                    "observed_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "metadata": {"speaker": turn["speaker"], "session": str(s)},
                }
            )
    questions = []
    for i, q in enumerate(qa):
        evidence = []
        for e in q.get("evidence", []):
            evidence += [x for x in re.split(r"[;,\s]+", e) if re.fullmatch(r"D\d+:\d+", x)]
        if not evidence:
            continue
        questions.append(
            {
                "id": "%s/q%d" % (sample_id, i),
                "text": q["question"],
                "evidence": evidence,
                "category": CATEGORIES.get(q.get("category"), str(q.get("category"))),
            }
        )
    return {"space": sample_id, "episodes": episodes, "questions": questions}


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    heldout = "--heldout" in argv
    samples = load(args[0])
    ids = [s[0] for s in samples]
    if ids[:5] != DEV:
        print("unexpected file order %s: the first five must be %s" % (ids, DEV), file=sys.stderr)
        return 1
    chosen = samples[5:] if heldout else samples[:5]
    with open(args[1], "w", encoding="utf-8") as out:
        for sample_id, conversation, qa in chosen:
            line = convert(sample_id, conversation, qa)
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
            print(
                "%s: %d episodes, %d questions"
                % (sample_id, len(line["episodes"]), len(line["questions"])),
                file=sys.stderr,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
