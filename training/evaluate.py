"""Held-out evaluation of a base model against tuned adapters: perplexity on the author's real
responses, perplexity on a control text that is not the author's (training/control: a tuned
adapter should improve much less there — it specialised on this author, not on everything), and a
style score of generations for the held-out instructions. Every model is scored on the same
prompts, rendered with the base model's chat template.

The style score averages three parts, each in [0, 1]: similarity of the stylometric profile
(sentence length, line breaks, emoji, hashtags, punctuation, line length), vocabulary overlap
with the author's responses, and embedding cosine with the project's embedding model.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from training.dataset import Sample
from twin.core.chat_template import render_prompt

EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\ufe0f]")
HASHTAG = re.compile(r"(?<!\w)#\w+")
WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
SENTENCE_END = re.compile(r"[.!?…]+(?=\s|$)|\n+")
PUNCTUATION = re.compile(r"[!?:;,…→\-\"'()]")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ufffd]")


def stylometric_profile(texts: list[str]) -> dict[str, float]:
    """Style features of a body of text, rates per 100 words so lengths compare."""
    words = sentences = lines = chars = emoji = hashtags = punctuation = breaks = 0
    for text in texts:
        text_words = WORD.findall(text)
        words += len(text_words)
        sentences += max(1, len([part for part in SENTENCE_END.split(text) if part.strip()]))
        non_empty_lines = [line for line in text.splitlines() if line.strip()]
        lines += max(1, len(non_empty_lines))
        chars += sum(len(line) for line in non_empty_lines)
        emoji += len(EMOJI.findall(text))
        hashtags += len(HASHTAG.findall(text))
        punctuation += len(PUNCTUATION.findall(text))
        breaks += text.count("\n")
    per_100 = 100 / max(words, 1)
    return {
        "words_per_sentence": words / max(sentences, 1),
        "chars_per_line": chars / max(lines, 1),
        "line_breaks_per_100_words": breaks * per_100,
        "emoji_per_100_words": emoji * per_100,
        "hashtags_per_100_words": hashtags * per_100,
        "punctuation_per_100_words": punctuation * per_100,
    }


def profile_similarity(candidate: dict[str, float], reference: dict[str, float]) -> float:
    """1 when every feature matches, towards 0 as features diverge (relative difference per feature)."""
    scores = [
        1 - abs(candidate[key] - value) / max(abs(candidate[key]), abs(value), 1e-9)
        if max(candidate[key], value) > 0
        else 1.0
        for key, value in reference.items()
    ]
    return sum(scores) / len(scores)


def _vocabulary(text: str) -> set[str]:
    return {word.lower() for word in WORD.findall(text)}


def vocabulary_overlap(candidates: list[str], references: list[str]) -> float:
    """Mean Jaccard overlap between each generation's words and the author's response's words."""
    scores = []
    for candidate, reference in zip(candidates, references):
        used, known = _vocabulary(candidate), _vocabulary(reference)
        scores.append(len(used & known) / len(used | known) if used | known else 0.0)
    return sum(scores) / len(scores) if scores else 0.0


def embedding_cosine(candidates: list[str], references: list[str], model_name: str) -> float:
    """Mean cosine between each generation and the author's response to the same instruction."""
    from twin.core.embedding import encode, load_embedding_model

    model = load_embedding_model(model_name)
    candidate_vectors = encode(model, candidates, batch_size=32)
    reference_vectors = encode(model, references, batch_size=32)
    return float((candidate_vectors * reference_vectors).sum(axis=1).mean())


def style_score(generations: list[str], references: list[str], model_name: str) -> dict[str, float]:
    components = {
        "profile_similarity": profile_similarity(stylometric_profile(generations), stylometric_profile(references)),
        "vocabulary_overlap": vocabulary_overlap(generations, references),
        "embedding_cosine": embedding_cosine(generations, references, model_name),
    }
    return {"score": sum(components.values()) / len(components), **components}


def perplexity(model, tokenizer, samples: list[Sample], max_length: int) -> float:
    """exp(mean negative log-likelihood) of the author's responses given the prompts."""
    import torch

    total_nll, total_tokens = 0.0, 0
    device = next(model.parameters()).device
    with torch.no_grad():
        for sample in samples:
            prompt_ids = tokenizer(render_prompt(sample.prompt, sample.system, tokenizer), add_special_tokens=False)[
                "input_ids"
            ]
            response_ids = tokenizer(sample.response + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
            room = max_length - min(len(response_ids), max_length // 2)  # a long prompt loses its start, not the text
            prompt_ids = prompt_ids[-room:] if len(prompt_ids) > room else prompt_ids
            input_ids = (prompt_ids + response_ids)[:max_length]
            labels = ([-100] * len(prompt_ids) + response_ids)[:max_length]
            scored = sum(label != -100 for label in labels) - 1  # the first label is not predicted from a shift
            if scored <= 0:
                continue
            output = model(
                input_ids=torch.tensor([input_ids], device=device), labels=torch.tensor([labels], device=device)
            )
            total_nll += float(output.loss) * scored
            total_tokens += scored
    return math.exp(total_nll / total_tokens) if total_tokens else float("inf")


def generate(model, tokenizer, samples: list[Sample], max_new_tokens: int) -> list[str]:
    """Greedy continuations (deterministic, so base and tuned compare on equal terms)."""
    import torch

    device = next(model.parameters()).device
    outputs = []
    with torch.no_grad():
        for sample in samples:
            prompt = render_prompt(sample.prompt, sample.system, tokenizer)
            inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(device)
            generated = model.generate(
                **inputs,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                repetition_penalty=1.3,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
            )
            text = tokenizer.decode(generated[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True).strip()
            outputs.append(CONTROL_CHARACTERS.sub("", text))  # a byte-level model can emit NUL (and JSONB refuses it)
    return outputs


def evaluate_variant(
    base_model: str,
    adapter_dir: str | None,
    samples: list[Sample],
    *,
    max_length: int,
    max_samples: int,
    max_new_tokens: int,
    embedding_model: str,
    control: list[Sample] | None = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """Perplexity (author's held-out text, and the control text) and style of one model
    (``adapter_dir`` None: the base alone)."""
    if threads:
        import torch

        torch.set_num_threads(threads)
    from twin.core.model_loading import load_for_inference

    model, tokenizer = load_for_inference(adapter_dir, base_model)
    if hasattr(model, "merge_and_unload"):  # the same numbers, without LoRA's extra matmuls (~15 % faster)
        model = model.merge_and_unload()
    chosen = samples[:max_samples]
    generations = generate(model, tokenizer, chosen, max_new_tokens)
    references = [sample.response for sample in chosen]
    return {
        "perplexity": perplexity(model, tokenizer, samples, max_length),
        "control_perplexity": perplexity(model, tokenizer, control, max_length) if control else None,
        "style": style_score(generations, references, embedding_model),
        "examples": [{"instruction": s.instruction, "generation": g} for s, g in zip(chosen[:3], generations[:3])],
    }


def control_samples(limit: int, system: str | None = None) -> list[Sample]:
    """The control corpus as samples: the same kind of request, a text by someone else."""
    from training.control import load_control_passages
    from training.dataset import user_message
    from twin.core.chat_template import DEFAULT_SYSTEM_PROMPT

    if limit <= 0:
        return []
    return [
        Sample(
            sample_id=f"control-{index}",
            document_id=f"control-{index}",
            instruction=f'Write a LinkedIn post about "{passage["title"]}"',
            response=passage["text"],
            split="validation",
            prompt=user_message(f'"{passage["title"]}"', []),
            system=system or DEFAULT_SYSTEM_PROMPT,
        )
        for index, passage in enumerate(load_control_passages(limit))
    ]


def relative_change(new: float | None, old: float | None) -> float | None:
    """(new - old) / old: -0.2 is a 20 % drop."""
    if new is None or old is None or not math.isfinite(new) or not math.isfinite(old) or old <= 0:
        return None
    return (new - old) / old


def loss_curve(log_history: list[dict]) -> dict[str, list[float]]:
    train = [(entry["step"], entry["loss"]) for entry in log_history if "loss" in entry]
    evaluation = [(entry["step"], entry["eval_loss"]) for entry in log_history if "eval_loss" in entry]
    return {
        "train_steps": [s for s, _ in train],
        "train_loss": [v for _, v in train],
        "eval_steps": [s for s, _ in evaluation],
        "eval_loss": [v for _, v in evaluation],
    }


def write_report(metrics: dict[str, Any], directory: Path) -> tuple[Path, Path]:
    """``report.json`` and ``report.png`` (loss curves, perplexity and style per model) in ``directory``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    report_path = directory / "report.json"
    report_path.write_text(json.dumps(metrics, indent=2, ensure_ascii=False), encoding="utf-8")

    variants = metrics["evaluation"]
    names = list(variants)
    figure, (losses, perplexities, styles) = plt.subplots(1, 3, figsize=(15, 4))
    curve = metrics["training"]["loss_curve"]
    losses.plot(curve["train_steps"], curve["train_loss"], label="train")
    if curve["eval_steps"]:
        losses.plot(curve["eval_steps"], curve["eval_loss"], marker="o", label="held-out")
    losses.set(title="loss", xlabel="step")
    losses.legend()
    perplexities.bar(names, [variants[name]["perplexity"] for name in names], color="tab:blue")
    perplexities.set(title="held-out perplexity (lower is better)", yscale="log")
    parts = ["profile_similarity", "vocabulary_overlap", "embedding_cosine", "score"]
    width = 0.8 / len(names)
    for index, name in enumerate(names):
        styles.bar(
            [position + index * width for position in range(len(parts))],
            [variants[name]["style"][part] for part in parts],
            width,
            label=name,
        )
    styles.set_xticks([position + width * (len(names) - 1) / 2 for position in range(len(parts))], parts, rotation=15)
    styles.set(title="style vs the author's held-out posts", ylim=(0, 1))
    styles.legend()
    figure.suptitle(f"run {metrics['model_id']} ({metrics['base_model_name']})")
    figure.tight_layout()
    plot_path = directory / "report.png"
    figure.savefig(plot_path, dpi=90)
    plt.close(figure)
    return report_path, plot_path
