#!/usr/bin/env python3
"""Generates the bundled demo task (deterministic, seed 7): write a short story that features the character
named in the prompt. stories260K was trained on TinyStories, whose stories mostly star Lily, Tim, Ben...; it does not
put an unusual name from a prompt into the story, which is what the demo teaches it with LoRA.

Output: ../main/resources/io/peft4j/bundled/demo/{train,eval}.jsonl with {"prompt": ..., "completion": ...}.
Eval stories use held-out story templates/combinations; names are shared with training (the task is to use the
given name, not to invent one)."""
import json, os, random

NAMES = ["Zib", "Mox", "Pella", "Quon", "Tavi", "Rindo", "Fenna", "Brix", "Kelo", "Yara",
         "Wex", "Vesta", "Lumo", "Sprig", "Tova", "Dobbin", "Nim", "Orla", "Jaxo", "Bree"]
KINDS = ["little girl", "little boy", "small dog", "happy cat", "tiny bird", "big bear", "kind frog", "brave bunny"]
LIKES = ["play in the park", "eat apples", "run fast", "sing songs", "draw pictures", "jump in puddles",
         "read books", "build with blocks", "look at the stars", "dance in the sun"]
FINDS = ["a red ball", "a shiny stone", "a big box", "a lost toy", "a yellow flower", "a small key", "a blue hat"]
FEELS = ["happy", "surprised", "excited", "proud", "glad"]
ENDS = ["{n} went home and smiled.", "{n} and the friend played all day.", "From that day on, {n} was never sad.",
        "{n} said thank you and hugged mom.", "That night, {n} slept with a big smile."]

TEMPLATES = [
    "Once upon a time, there was a {k} named {n}. {n} liked to {l}. One day, {n} found {f}. {n} was very {e}. {end}",
    "One day, a {k} named {n} went outside. {n} wanted to {l}. Then {n} saw {f}. {n} felt {e}. {end}",
    "{n} was a {k}. Every day, {n} liked to {l}. One morning, {n} found {f} under a tree. {n} was {e}. {end}",
    "There once was a {k} called {n}. {n} loved to {l}. When {n} found {f}, {n} was so {e}. {end}",
]
HELD_OUT_TEMPLATE = 3  # eval uses this template only


def story(rng, name, template):
    return template.format(k=rng.choice(KINDS), n=name, l=rng.choice(LIKES), f=rng.choice(FINDS),
                           e=rng.choice(FEELS), end=rng.choice(ENDS).format(n=name))


def main():
    rng = random.Random(7)
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, "..", "main", "resources", "io", "peft4j", "bundled", "demo")
    train, evals = [], []
    for i in range(400):
        n = NAMES[i % len(NAMES)]
        t = TEMPLATES[rng.choice([0, 1, 2])]
        train.append({"prompt": f"A story about {n}:", "completion": " " + story(rng, n, t)})
    for i in range(40):
        n = NAMES[i % len(NAMES)]
        evals.append({"prompt": f"A story about {n}:", "completion": " " + story(rng, n, TEMPLATES[HELD_OUT_TEMPLATE])})
    rng.shuffle(train)
    for fname, rows in (("train.jsonl", train), ("eval.jsonl", evals)):
        with open(os.path.join(out, fname), "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
