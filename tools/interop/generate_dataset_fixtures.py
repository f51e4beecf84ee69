#!/usr/bin/env python3
"""Dataset files written the way the Python ecosystem writes them, for peft4j's data-format integration tests.

Source rows: the first 48 examples of the bundled demo task (platform-core/.../bundled/demo/train.jsonl). Each
file is written with the library call the ecosystem uses for that kind of file:
  * JSON Lines: pandas DataFrame.to_json(orient="records", lines=True, force_ascii=False) - what Hugging Face
    datasets' Dataset.to_json writes (its JsonDatasetWriter calls pandas with these arguments), with a ".json"
    extension as Dataset.to_json("x.json") leaves it, and ".jsonl";
  * a JSON array: json.dump(rows, f, indent=4) - Stanford Alpaca's utils.jdump, how alpaca_data.json is written;
  * CSV: pandas DataFrame.to_csv(index=False) - what Dataset.to_csv writes;
  * plain text: one story per line, as `datasets.load_dataset("text")` reads it.
Parquet is not written here: pyarrow (what Dataset.to_parquet uses) is not installable on this machine; the
integration test writes its Parquet file with DuckDB's COPY ... (FORMAT parquet) from messages.jsonl.

Run: /usr/bin/python3 tools/interop/generate_dataset_fixtures.py integration-tests/src/test/resources/datasets
"""
import json
import os
import sys

import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))
DEMO = os.path.join(HERE, "..", "..", "platform-core", "src", "main", "resources", "io", "peft4j", "bundled", "demo",
                    "train.jsonl")


def main(out):
    os.makedirs(out, exist_ok=True)
    rows = [json.loads(line) for line in open(DEMO, encoding="utf-8") if line.strip()][:48]
    names = [r["prompt"][len("A story about "):-1] for r in rows]

    def jsonl(df, name):
        df.to_json(os.path.join(out, name), orient="records", lines=True, force_ascii=False)

    jsonl(pd.DataFrame({"text": [r["prompt"] + r["completion"] for r in rows]}), "text.jsonl")
    jsonl(pd.DataFrame(rows), "prompt_completion.json")
    jsonl(pd.DataFrame({"messages": [[
        {"role": "system", "content": "You write short stories for children."},
        {"role": "user", "content": f"Tell me a story about {n}."},
        {"role": "assistant", "content": r["completion"].strip()},
    ] for n, r in zip(names, rows)]}), "messages.jsonl")
    alpaca = []
    for i, (n, r) in enumerate(zip(names, rows)):
        if i % 2 == 0:
            alpaca.append({"instruction": "Write a short story.", "input": f"The story is about {n}.",
                           "output": r["completion"].strip()})
        else:
            alpaca.append({"instruction": f"Write a short story about {n}.", "input": "",
                           "output": r["completion"].strip()})
    with open(os.path.join(out, "alpaca_data.json"), "w") as f:
        json.dump(alpaca, f, indent=4)
    pd.DataFrame({"question": [r["prompt"] for r in rows], "answer": [r["completion"] for r in rows]}).to_csv(
        os.path.join(out, "qa.csv"), index=False)
    with open(os.path.join(out, "stories.txt"), "w", encoding="utf-8") as f:
        for r in rows:
            f.write(r["completion"].strip() + "\n")
    print("wrote", sorted(os.listdir(out)))


if __name__ == "__main__":
    main(sys.argv[1])
