#!/usr/bin/env python3
"""Expected chat-template renderings, produced by the real transformers code (apply_chat_template).

For every template in tools/interop/chat_templates/*.json (the chat_template strings of public model
tokenizer_config.json files, with each file's source noted) and a few conversations, writes what
transformers' PreTrainedTokenizerBase.apply_chat_template returns:
  * text: tokenize=False, with the model's own special tokens (bos/eos as in its tokenizer_config.json);
  * stories_text / stories_ids: the same template with stories260K's tokenizer (slow LlamaTokenizer over
    sentencepiece, tokenizer.model), tokenize=True, i.e. the rendered text tokenized with add_special_tokens=False;
  * error: the message when the template raises (raise_exception) for that conversation.

Run (<libs>: the unmodified library sources listed in docs/interop.md):
  PYTHONPATH=<libs>:tools/interop/import_stubs /usr/bin/python3 tools/interop/generate_chat_templates.py \
      ../shared/models/stories260K platform-core/src/test/resources/chat-templates/golden.json
"""
import glob
import json
import os
import sys

import transformers
from transformers import LlamaTokenizer
from transformers import tokenization_utils_base

# Without the Rust tokenizers package transformers falls back to a dataclass AddedToken (eq=True, so unhashable),
# and lacks __setstate__; the slow tokenizer's constructor needs both (put into a set, state updated). Give them
# the Rust class's behaviour: hash by content, __setstate__ updates the fields.
_AddedToken = tokenization_utils_base.AddedToken
if _AddedToken.__hash__ is None:
    _AddedToken.__hash__ = lambda self: hash(self.content)
if not hasattr(_AddedToken, "__setstate__"):
    _AddedToken.__setstate__ = lambda self, state: self.__dict__.update(state)

# date_string is passed so the Llama 3.2 template does not call strftime_now (the golden file must not depend on
# the day it was made); other templates ignore it, as transformers passes unknown kwargs through.
KWARGS = {"date_string": "26 Jul 2024"}

CONVERSATIONS = {
    "single_user": [{"role": "user", "content": "Hello, how are you?"}],
    "multi_turn": [
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4."},
        {"role": "user", "content": "  Thanks!  "},
        {"role": "assistant", "content": "You're welcome \u2014 anytime. \U0001F60A"},
    ],
    "with_system": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": "Blue."},
    ],
    "system_then_user": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Name a colour."},
    ],
    "not_alternating": [
        {"role": "user", "content": "One."},
        {"role": "user", "content": "Two."},
    ],
}


def render(tok, conv, gen, tokenize):
    try:
        return {"value": tok.apply_chat_template(conv, tokenize=tokenize, add_generation_prompt=gen, **KWARGS)}
    except Exception as e:  # jinja2.exceptions.TemplateError from raise_exception
        return {"error": str(e), "error_type": type(e).__name__}


def main(model_dir, out_path):
    here = os.path.dirname(os.path.abspath(__file__))
    stories = LlamaTokenizer.from_pretrained(model_dir)
    stories_tokens = dict(stories.special_tokens_map)
    cases = []
    templates = {}
    for path in sorted(glob.glob(os.path.join(here, "chat_templates", "*.json"))):
        name = os.path.splitext(os.path.basename(path))[0]
        spec = json.load(open(path, encoding="utf-8"))
        model_tok = LlamaTokenizer.from_pretrained(model_dir)
        model_tok.chat_template = spec["chat_template"]
        # The template sees the model's special tokens by name; set them as the model's tokenizer_config.json does.
        model_tok.bos_token = spec.get("bos_token")
        model_tok.eos_token = spec.get("eos_token")
        model_tok.unk_token = None
        stories.chat_template = spec["chat_template"]
        templates[name] = {"source": spec["source"], "chat_template": spec["chat_template"],
                           "special_tokens": dict(model_tok.special_tokens_map)}
        for conv_name, conv in CONVERSATIONS.items():
            for gen in (False, True):
                case = {"template": name, "conversation": conv_name, "add_generation_prompt": gen}
                r = render(model_tok, conv, gen, False)
                if "error" in r:
                    case["error"] = r["error"]
                else:
                    case["text"] = r["value"]
                    s = render(stories, conv, gen, False)
                    ids = render(stories, conv, gen, True)
                    case["stories_text"] = s["value"]
                    case["stories_ids"] = ids["value"]
                cases.append(case)
    out = {
        "generated_by": "tools/interop/generate_chat_templates.py",
        "transformers_version": transformers.__version__,
        "stories_tokenizer": "LlamaTokenizer (slow, sentencepiece) from " + os.path.basename(model_dir.rstrip("/")),
        "stories_special_tokens": stories_tokens,
        "template_kwargs": KWARGS,
        "conversations": CONVERSATIONS,
        "templates": templates,
        "cases": cases,
    }
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"{len(cases)} cases ({sum('error' in c for c in cases)} errors) -> {out_path}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
