"""Generation backends: a Hugging Face causal LM with the user's LoRA adapter (loaded with
training's own :func:`twin.core.model_loading.load_for_inference`), or an OpenAI-compatible server.

:func:`generate` and :func:`generate_stream` take a loaded model and a :class:`GenerationRequest`
(the user's request plus the context gathered by the ingress), assemble the prompt within the
model's context window, generate, and post-process. The Serve ``Generator`` deployment and the
in-process path both call them.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from serving.config import GenerationConfig, PromptConfig, QualityConfig
from twin.core.base_models import SHIPPED_MODEL_ID, TINY_LOCAL, display_name, is_tiny_local
from twin.core.chat_template import DEFAULT_SYSTEM_PROMPT, MARKERS, render_prompt
from twin.core.post_quality import (
    URL,
    QualityReport,
    check_post,
    citation_parts,
    lasting_problems,
    text_perplexity,
)
from twin.core.prompting import AssembledPrompt, ContextItem, assemble_prompt, postprocess, stream_safe_prefix

logger = logging.getLogger("ray.serve.twin")
BASE_MODEL_ID = "base"

# Text the offline stand-in base model's tokenizer is trained on when a user has no adapter of
# their own and TWIN_BASE_MODEL is tiny-local (each trained adapter carries its own tiny base).
STARTER_SEED = 7
STARTER_CORPUS = [
    DEFAULT_SYSTEM_PROMPT,
    "Write a LinkedIn post in my voice about what I learned this week.",
    "Open with a one-line hook. Short paragraphs of one to three sentences, separated by blank lines.",
    "Shipping beats polishing. Put it out, listen, then improve it. #learning #engineering",
    "Three things I tell every engineer I mentor: write down what you expect, read the error twice, ask for help early.",
    "Retrieval, search, embeddings, models, data, teams, customers, product, writing, reading, links, papers.",
]


@dataclass(frozen=True)
class ModelSpec:
    """What to load for a user: ``model_id`` is the multiplexing key (the registry id, or ``base``)."""

    model_id: str
    base_model: str
    adapter_uri: str | None = None
    no_adapter_reason: str | None = None  # why a request runs without an adapter (shown to the user)

    @property
    def is_test_model(self) -> bool:
        return is_tiny_local(self.base_model) or "/tiny-local/" in self.base_model

    def describe(self) -> dict:
        info = {
            "base": display_name(self.base_model),
            "adapter": self.adapter_uri,
            "model_id": None if self.model_id == BASE_MODEL_ID else self.model_id,
            "test_model": self.is_test_model,
            "notice": None,
        }
        if self.is_test_model:
            info["base"] = "tiny-local"
            info["notice"] = (
                "tiny-local is a random-weight test model: this text is not meaningful. "
                f"Set TWIN_BASE_MODEL to a real model (the default is {SHIPPED_MODEL_ID})."
            )
        return info


@dataclass
class GenerationRequest:
    prompt: str
    links: list[ContextItem]
    hits: list[ContextItem]
    max_new_tokens: int
    temperature: float
    spec: ModelSpec


@dataclass
class GenerationResult:
    post: str
    model: dict
    used: list[dict] = field(default_factory=list)  # context items used, in prompt order
    truncated_keys: list[str] = field(default_factory=list)
    dropped_keys: list[str] = field(default_factory=list)
    prompt_tokens: int = 0
    context_tokens: int = 0
    generated_tokens: int = 0
    raw_chars: int = 0
    prompt_truncated: bool = False
    generate_ms: float = 0.0
    quality: dict = field(default_factory=dict)  # twin.core.post_quality.QualityReport as a dict
    rejected_draft: str | None = None  # the last draft when every attempt failed the quality check
    written: str = ""  # what the model wrote: ``post`` before the sources line we may append

    def to_dict(self) -> dict:
        result = asdict(self)
        del result["written"]
        return result


@dataclass
class DraftCheck:
    """Judges a draft while it is generated: every ``every_tokens`` new tokens its text so far is
    checked for problems no continuation can remove (:func:`lasting_problems`); the first found
    stops the generation and stays in ``problems``."""

    known_urls: list[str] | None = None  # the sites a link may point to (None: links are not judged)
    every_tokens: int = 8
    problems: list[str] = field(default_factory=list)

    def rejects(self, raw: str) -> bool:
        self.problems = lasting_problems(stream_safe_prefix(raw), self.known_urls)
        return bool(self.problems)


class _StopOnLastingProblem:
    """A transformers stopping criterion around a :class:`DraftCheck` (a batch of one prompt)."""

    def __init__(self, check: DraftCheck, tokenizer, prompt_length: int):
        self.check, self.tokenizer, self.prompt_length = check, tokenizer, prompt_length

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        new_tokens = input_ids.shape[1] - self.prompt_length
        stop = (
            new_tokens > 0
            and new_tokens % self.check.every_tokens == 0
            and self.check.rejects(self.tokenizer.decode(input_ids[0, self.prompt_length :], skip_special_tokens=False))
        )
        return torch.full((input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device)


def resolve_base_model(name: str, home: Path) -> str:
    """A loadable base model: ``tiny-local`` becomes the starter tiny model (built once, offline)."""
    if name != TINY_LOCAL:
        return name
    from twin.core.tiny_model import TinyModelSpec, build_tiny_model

    return str(build_tiny_model(STARTER_CORPUS * 4, TinyModelSpec(), home, seed=STARTER_SEED))


# How the transformers backend holds its weights (``generation.precision`` in serving/config.yaml).
# Measured on SmolLM2-135M-Instruct, 2-core AVX-512 CPU, 543-token prompt, 96 new tokens
# (benchmarks/generation.py prints the table; x = tokens/s over fp32's):
#   fp32  the reference.
#   fp16  CPU: every base nn.Linear's weight stored in fp16 and multiplied by fbgemm with fp32
#         activations and fp32 accumulation (``quantize_dynamic(dtype=float16)``): 1.5-1.9x, greedy
#         tokens identical, the same 8/8 posts word for word (the shipped weights come from a 4-bit
#         GGUF, so fp16 holds them almost exactly). GPU: the whole model in fp16.
#   bf16  the whole model in bfloat16: about 1x on CPU (the elementwise ops pay for the
#         conversions), posts differ from fp32's and pass the quality check less often (5/8 vs 6/8).
#   int8  CPU only: dynamic int8 (weights and activations) on every base nn.Linear: about 2x, but
#         lossy on this model (top-1 agreement with fp32 about 55%, quality 5/8 vs 6/8).
# A LoRA adapter stays in fp32 on top of the converted base layers (fp16/int8 convert only the
# base nn.Linear modules, not lora_A/lora_B), so a user's adapter changes the output as before and
# can still be switched off (the fluency judge does).
PRECISIONS = ("fp32", "fp16", "bf16", "int8")
CPU_ONLY_PRECISIONS = ("int8",)


def check_precision(precision: str, device: str) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"unknown generation precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    if precision in CPU_ONLY_PRECISIONS and device != "cpu":
        raise ValueError(
            f"generation precision {precision!r} runs on the CPU only (device is {device!r}): use fp16 or bf16"
        )


def _base_linears(model) -> list[str]:
    """Names of the plain ``nn.Linear`` modules of ``model`` outside any LoRA adapter (peft keeps the
    adapter's own layers under ``lora_A``/``lora_B``; the wrapped base layer is ``base_layer``)."""
    import torch

    return [
        name
        for name, module in model.named_modules()
        if type(module) is torch.nn.Linear and not any(part.startswith("lora_") for part in name.split("."))
    ]


def apply_precision(model, precision: str, device: str):
    """``model`` (already on ``device``) converted to ``precision`` (see :data:`PRECISIONS`)."""
    import torch

    check_precision(precision, device)
    if precision == "fp32":
        return model
    if precision == "bf16":
        return model.to(torch.bfloat16)
    if precision == "fp16" and device != "cpu":
        return model.to(torch.float16)
    if precision == "fp16" and "fbgemm" not in torch.backends.quantized.supported_engines:
        raise ValueError("generation precision 'fp16' on the CPU needs fbgemm (an x86-64 build of torch): use fp32")
    names = _base_linears(model)
    if not names:
        return model
    with warnings.catch_warnings():  # torch.ao.quantization announces torchao; its eager dynamic path still works
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        from torch.ao.quantization import default_dynamic_qconfig, float16_dynamic_qconfig, quantize_dynamic

        qconfig, dtype = (
            (float16_dynamic_qconfig, torch.float16) if precision == "fp16" else (default_dynamic_qconfig, torch.qint8)
        )
        return quantize_dynamic(model, {name: qconfig for name in names}, dtype=dtype, inplace=True)


class TransformersModel:
    """A base model (+ LoRA adapter) and its tokenizer, ready to generate, its weights held in
    ``precision`` (one of :data:`PRECISIONS`)."""

    backend = "transformers"

    def __init__(self, spec: ModelSpec, *, home: Path, device: str | None = None, precision: str = "fp32"):
        import torch

        from twin.core.model_loading import load_for_inference

        self.spec = spec
        self.fallback_reason: str | None = None
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.precision = precision
        check_precision(precision, torch.device(self.device).type)
        base = resolve_base_model(spec.base_model, home)
        started = time.perf_counter()
        try:
            self.model, self.tokenizer = load_for_inference(spec.adapter_uri, base)
        except (FileNotFoundError, OSError, ValueError) as exc:
            if spec.adapter_uri is None:
                raise
            # a registered adapter that cannot be read: serve the base model and say so
            self.fallback_reason = f"adapter {spec.adapter_uri} could not be loaded: {str(exc).splitlines()[0]}"
            logger.warning("adapter fallback: %s", self.fallback_reason)
            self.model, self.tokenizer = load_for_inference(None, base)
        self.model.to(self.device)
        self.model = apply_precision(self.model, precision, torch.device(self.device).type)
        self.load_ms = (time.perf_counter() - started) * 1000
        config = getattr(self.model, "config", None)
        self.max_positions = int(getattr(config, "max_position_embeddings", None) or 2048)
        self._bad_words = [
            ids for ids in (self.tokenizer.encode(marker, add_special_tokens=False) for marker in MARKERS) if ids
        ]
        for token_id in {self.tokenizer.pad_token_id, self.tokenizer.bos_token_id, self.tokenizer.unk_token_id}:
            if token_id is not None and token_id != self.tokenizer.eos_token_id:
                self._bad_words.append([token_id])

    def render(self, message: str, system: str | None) -> str:
        """The prompt text in this model's chat template (the one its adapter was trained on)."""
        return render_prompt(message, system, self.tokenizer)

    def describe(self) -> dict:
        adapter_used = self.spec.adapter_uri is not None and self.fallback_reason is None
        info = {
            "backend": self.backend,
            **self.spec.describe(),
            "fallback": not adapter_used,
            "adapter_used": adapter_used,
            "fallback_reason": None,
            "precision": self.precision,
        }
        if self.fallback_reason:
            info.update(adapter=None, fallback_reason=self.fallback_reason)
        return info

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def budget(self, max_new_tokens: int) -> tuple[int, int]:
        """(new tokens, prompt tokens) that fit the context window together."""
        new_tokens = max(1, min(max_new_tokens, self.max_positions // 2))
        return new_tokens, self.max_positions - new_tokens - 2

    def _inputs(self, text: str):
        # the chat template already holds every special token the model expects
        return self.tokenizer(text, return_tensors="pt", add_special_tokens=False).to(self.device)

    def _options(
        self,
        max_new_tokens: int,
        temperature: float,
        overrides: dict | None = None,
        check: DraftCheck | None = None,
        prompt_length: int = 0,
    ) -> dict:
        options = dict(
            max_new_tokens=max_new_tokens,
            min_new_tokens=min(8, max_new_tokens),
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=self.tokenizer.eos_token_id,
            bad_words_ids=self._bad_words or None,
            repetition_penalty=1.1,
        )
        if temperature > 0:
            options.update(do_sample=True, temperature=temperature, top_p=0.95)
        else:
            options.update(do_sample=False)
        options.update(overrides or {})
        if check is not None:
            from transformers import StoppingCriteriaList

            options["stopping_criteria"] = StoppingCriteriaList(
                [_StopOnLastingProblem(check, self.tokenizer, prompt_length)]
            )
        return options

    def complete(
        self,
        text: str,
        max_new_tokens: int,
        temperature: float,
        overrides: dict | None = None,
        check: DraftCheck | None = None,
    ) -> tuple[str, int, int]:
        """(text, prompt tokens, new tokens); with ``check``, stopped early at a lasting problem."""
        import torch

        inputs = self._inputs(text)
        prompt_length = inputs["input_ids"].shape[1]
        with torch.inference_mode():
            output = self.model.generate(
                **inputs, **self._options(max_new_tokens, temperature, overrides, check, prompt_length)
            )
        generated = output[0][prompt_length:]
        return self.tokenizer.decode(generated, skip_special_tokens=False), prompt_length, len(generated)

    def stream(
        self,
        text: str,
        max_new_tokens: int,
        temperature: float,
        overrides: dict | None = None,
        check: DraftCheck | None = None,
    ) -> Iterator[str]:
        import torch
        from transformers import TextIteratorStreamer

        inputs = self._inputs(text)
        options = self._options(max_new_tokens, temperature, overrides, check, inputs["input_ids"].shape[1])
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=False, timeout=300)
        error: list[BaseException] = []

        def run() -> None:
            try:
                with torch.inference_mode():
                    self.model.generate(**inputs, **options, streamer=streamer)
            except BaseException as exc:  # surfaced to the consumer below
                error.append(exc)
                streamer.end()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        yield from streamer
        thread.join()
        if error:
            raise error[0]


class OpenAIModel:
    """An OpenAI-compatible ``/chat/completions`` server. The system and instruction go as chat
    messages, which the server renders with its model's own chat template."""

    backend = "openai"

    def __init__(self, spec: ModelSpec, config: GenerationConfig, api_key: str | None):
        self.spec = spec
        self.config = config.openai
        self.api_key = api_key
        self.fallback_reason = None
        self.max_positions = self.config.context_tokens
        if spec.adapter_uri and self.config.adapter_model:
            self.model_name = self.config.adapter_model.format(model_id=spec.model_id)
        else:
            self.model_name = self.config.model
            if spec.adapter_uri:
                self.fallback_reason = "the OpenAI-compatible backend has no adapter_model template configured"

    def describe(self) -> dict:
        info = {
            "backend": self.backend,
            "base": self.config.model,
            "adapter": None,
            "model_id": None,
            "served_model": self.model_name,
            "fallback": self.model_name == self.config.model,
            "adapter_used": self.model_name != self.config.model,
            "fallback_reason": None,
            "test_model": False,
            "notice": None,
        }
        if self.model_name != self.config.model:
            info.update(adapter=self.spec.adapter_uri, model_id=self.spec.model_id)
        if self.fallback_reason:
            info["fallback_reason"] = self.fallback_reason
        return info

    def render(self, message: str, system: str | None) -> str:
        return render_prompt(message, system)  # the server applies its own template; this only sizes the budget

    def count_tokens(self, text: str) -> int:
        return int(len(text) / self.config.chars_per_token) + 1

    def budget(self, max_new_tokens: int) -> tuple[int, int]:
        new_tokens = max(1, min(max_new_tokens, self.max_positions // 2))
        return new_tokens, self.max_positions - new_tokens

    def _body(
        self, assembled: AssembledPrompt, max_new_tokens: int, temperature: float, system: str | None, stream: bool
    ) -> dict:
        return {
            "model": self.model_name,
            "stream": stream,
            "max_tokens": max_new_tokens,
            "temperature": temperature,
            "messages": [
                {"role": "system", "content": system or DEFAULT_SYSTEM_PROMPT},
                {"role": "user", "content": assembled.instruction},
            ],
        }

    def _headers(self) -> dict:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def complete_chat(self, assembled: AssembledPrompt, max_new_tokens: int, temperature: float, system: str | None):
        import httpx

        response = httpx.post(
            f"{self.config.base_url.rstrip('/')}/chat/completions",
            timeout=self.config.timeout_s,
            json=self._body(assembled, max_new_tokens, temperature, system, False),
            headers=self._headers(),
        )
        response.raise_for_status()
        data = response.json()
        usage = data.get("usage") or {}
        text = data["choices"][0]["message"]["content"] or ""
        return text, int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)

    def stream_chat(
        self, assembled: AssembledPrompt, max_new_tokens: int, temperature: float, system: str | None
    ) -> Iterator[str]:
        import httpx

        with httpx.stream(
            "POST",
            f"{self.config.base_url.rstrip('/')}/chat/completions",
            timeout=self.config.timeout_s,
            json=self._body(assembled, max_new_tokens, temperature, system, True),
            headers=self._headers(),
        ) as response:
            response.raise_for_status()
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue
                payload = line[5:].strip()
                if payload == "[DONE]":
                    break
                delta = json.loads(payload)["choices"][0].get("delta", {}).get("content")
                if delta:
                    yield delta


def load_model(spec: ModelSpec, config: GenerationConfig, *, home: Path, api_key: str | None = None):
    if config.backend == "openai":
        return OpenAIModel(spec, config, api_key)
    return TransformersModel(spec, home=home, device=config.device, precision=config.precision)


# Each retry samples more conservatively than the one before.
ATTEMPT_SAMPLING = (
    {},
    {"repetition_penalty": 1.15, "no_repeat_ngram_size": 4},
    {"repetition_penalty": 1.2, "no_repeat_ngram_size": 3},
)
ATTEMPT_TEMPERATURE_CAP = (None, 0.5, 0.3)
_reference_models: dict[str, tuple] = {}
_reference_lock = threading.Lock()


def _sampling(request_temperature: float, attempt: int) -> tuple[float, dict]:
    index = min(attempt, len(ATTEMPT_SAMPLING) - 1)
    cap = ATTEMPT_TEMPERATURE_CAP[index]
    temperature = request_temperature if cap is None else min(request_temperature, cap)
    return temperature, dict(ATTEMPT_SAMPLING[index])


def reference_perplexity(model, text: str, quality: QualityConfig) -> float:
    """The draft's perplexity under the pretrained reference model (the shipped SmolLM2 by default):
    the model itself with its adapter switched off when it is built on that base, else the
    reference loaded once per process. A random test model is never its own judge."""
    reference = quality.reference_model or SHIPPED_MODEL_ID
    if isinstance(model, TransformersModel) and display_name(model.spec.base_model) == display_name(reference):
        disable = getattr(model.model, "disable_adapter", None)
        if disable is not None:
            with disable():
                return text_perplexity(model.model, model.tokenizer, text)
        return text_perplexity(model.model, model.tokenizer, text)
    with _reference_lock:
        if reference not in _reference_models:
            from twin.core.model_loading import load_base_model

            loaded, tokenizer = load_base_model(reference)
            loaded.eval()
            _reference_models[reference] = (loaded, tokenizer)
    loaded, tokenizer = _reference_models[reference]
    return text_perplexity(loaded, tokenizer, text)


def judge(
    model,
    post: str,
    sources: list[dict],
    quality: QualityConfig,
    max_chars: int,
    known_urls: list[str] | None = None,
    written: str | None = None,
) -> QualityReport:
    """The quality report of one draft (fluency measured only when the cheap rules pass). ``written``
    is what the model wrote, without the sources line we appended: a fluent footer must not carry a
    few words of salad past the length and fluency rules."""
    written = post if written is None else written
    report = check_post(post, sources=sources, max_chars=max_chars, known_urls=known_urls, written=written)
    if not report.passed:
        return report
    perplexity = reference_perplexity(model, written, quality)
    return check_post(
        post,
        sources=sources,
        perplexity=perplexity,
        threshold=quality.fluency_threshold,
        max_chars=max_chars,
        known_urls=known_urls,
        written=written,
    )


def _assemble(model, request: GenerationRequest, prompt_config: PromptConfig) -> tuple[AssembledPrompt, int]:
    new_tokens, prompt_budget = model.budget(request.max_new_tokens)
    assembled = assemble_prompt(
        request.prompt,
        request.links,
        request.hits,
        count_tokens=model.count_tokens,
        prompt_budget=prompt_budget,
        context_tokens=prompt_config.context_tokens,
        link_share=prompt_config.link_share,
        max_post_chars=prompt_config.max_post_chars,
        system=prompt_config.system_prompt,
        render=model.render,
    )
    return assembled, new_tokens


def _known_urls(request: GenerationRequest, assembled: AssembledPrompt) -> list[str]:
    """Addresses a post may link to: its context's (the links given, the chunks used) and those inside them."""
    items = [*request.links, *(entry.item for entry in assembled.used)]
    return [item.url for item in items] + [url for item in items for url in URL.findall(item.text)]


def _sources(assembled: AssembledPrompt) -> list[dict]:
    return [{"url": entry.item.url, "title": entry.item.title, "origin": entry.item.origin} for entry in assembled.used]


def _result(
    model,
    request: GenerationRequest,
    assembled: AssembledPrompt,
    raw: str,
    prompt_tokens: int,
    generated: int,
    started: float,
    prompt_config: PromptConfig,
) -> GenerationResult:
    info = model.describe()
    if not info.get("adapter_used") and not info.get("fallback_reason"):
        info["fallback_reason"] = request.spec.no_adapter_reason or "no adapter yet: this user has no trained adapter"
    written, footer = citation_parts(
        postprocess(raw, prompt_config.max_post_chars), _sources(assembled), prompt_config.max_post_chars
    )
    return GenerationResult(
        post=written + footer,
        written=written,
        model=info,
        used=[
            {**entry.item.to_dict(), "tokens": entry.tokens, "truncated": entry.truncated} for entry in assembled.used
        ],
        truncated_keys=[entry.item.key for entry in assembled.used if entry.truncated],
        dropped_keys=assembled.dropped,
        prompt_tokens=prompt_tokens,
        context_tokens=assembled.context_tokens,
        generated_tokens=generated,
        raw_chars=len(raw),
        prompt_truncated=assembled.prompt_truncated,
        generate_ms=round((time.perf_counter() - started) * 1000, 2),
    )


def _finish(
    model,
    request: GenerationRequest,
    result: GenerationResult,
    assembled: AssembledPrompt,
    quality: QualityConfig,
    attempt: int,
    prompt_config: PromptConfig,
    check: DraftCheck | None = None,
) -> bool:
    """Judge the draft and record the verdict on ``result``; True when it may be shown. A draft
    ``check`` stopped early is rejected for what stopped it."""
    if not quality.enabled:
        result.quality = {
            "passed": True,
            "problems": [],
            "perplexity": None,
            "threshold": None,
            "attempts": attempt + 1,
            "checked": False,
        }
        return True
    stopped = bool(check and check.problems)
    if stopped:
        report = QualityReport(False, list(check.problems))
    else:
        report = judge(
            model,
            result.post,
            _sources(assembled),
            quality,
            prompt_config.max_post_chars,
            _known_urls(request, assembled),
            written=result.written,
        )
    report.attempts = attempt + 1
    result.quality = {**report.to_dict(), "checked": True, "stopped_early": stopped}
    if not report.passed:
        draft = {"attempt": attempt + 1, "problems": report.problems, "stopped_early": stopped}
        logger.info(json.dumps({"event": "draft_rejected", **draft, "tokens": result.generated_tokens}))
    return report.passed


def _reject(result: GenerationResult) -> GenerationResult:
    result.rejected_draft, result.post = result.post, ""
    logger.warning(
        json.dumps(
            {
                "event": "quality_rejected",
                "problems": result.quality.get("problems"),
                "attempts": result.quality.get("attempts"),
            }
        )
    )
    return result


def _draft_check(model, quality: QualityConfig, known_urls: list[str]) -> DraftCheck | None:
    """A check that stops a local model's draft early (an OpenAI-compatible server finishes its own)."""
    return DraftCheck(known_urls) if quality.enabled and isinstance(model, TransformersModel) else None


def generate(
    model, request: GenerationRequest, prompt_config: PromptConfig, quality: QualityConfig | None = None
) -> GenerationResult:
    """Assemble, generate, post-process and judge (blocking). A draft that fails the quality check
    is generated again with more conservative sampling, up to ``quality.max_attempts`` drafts (a
    draft of a local model stops as soon as it has a problem no continuation can remove); when
    none passes, the result has an empty post, ``quality.passed`` false and the problems."""
    quality = quality or QualityConfig()
    started = time.perf_counter()
    assembled, new_tokens = _assemble(model, request, prompt_config)
    attempts = quality.max_attempts if quality.enabled else 1
    known_urls = _known_urls(request, assembled)
    for attempt in range(attempts):
        temperature, overrides = _sampling(request.temperature, attempt)
        check = _draft_check(model, quality, known_urls)
        if isinstance(model, OpenAIModel):
            raw, prompt_tokens, generated = model.complete_chat(
                assembled, new_tokens, temperature, prompt_config.system_prompt
            )
            prompt_tokens = prompt_tokens or model.count_tokens(assembled.text)
        else:
            raw, prompt_tokens, generated = model.complete(assembled.text, new_tokens, temperature, overrides, check)
        result = _result(model, request, assembled, raw, prompt_tokens, generated, started, prompt_config)
        if _finish(model, request, result, assembled, quality, attempt, prompt_config, check):
            return result
    return _reject(result)


def generate_stream(
    model, request: GenerationRequest, prompt_config: PromptConfig, quality: QualityConfig | None = None
) -> Iterator[dict]:
    """``{"type": "token", "text": ...}`` events (cleaned text as it grows); ``{"type": "reset",
    "problems": [...]}`` when a draft failed the quality check and the next one starts (clients
    clear what they showed); then ``{"type": "result", "result": GenerationResult-dict}``."""
    quality = quality or QualityConfig()
    started = time.perf_counter()
    assembled, new_tokens = _assemble(model, request, prompt_config)
    attempts = quality.max_attempts if quality.enabled else 1
    known_urls = _known_urls(request, assembled)
    for attempt in range(attempts):
        temperature, overrides = _sampling(request.temperature, attempt)
        check = _draft_check(model, quality, known_urls)
        if isinstance(model, OpenAIModel):
            pieces = model.stream_chat(assembled, new_tokens, temperature, prompt_config.system_prompt)
        else:
            pieces = model.stream(assembled.text, new_tokens, temperature, overrides, check)
        raw, shown, count = "", "", 0
        for piece in pieces:
            raw += piece
            count += 1
            visible = stream_safe_prefix(raw)[: prompt_config.max_post_chars]
            if visible.startswith(shown) and len(visible) > len(shown):
                yield {"type": "token", "text": visible[len(shown) :]}
                shown = visible
        prompt_tokens = model.count_tokens(assembled.text)
        generated = len(model.tokenizer.encode(raw, add_special_tokens=False)) if hasattr(model, "tokenizer") else count
        result = _result(model, request, assembled, raw, prompt_tokens, generated, started, prompt_config)
        if _finish(model, request, result, assembled, quality, attempt, prompt_config, check):
            yield {"type": "result", "result": result.to_dict()}
            return
        if attempt + 1 < attempts:
            yield {"type": "reset", "problems": result.quality["problems"], "attempt": attempt + 2}
    yield {"type": "result", "result": _reject(result).to_dict()}
