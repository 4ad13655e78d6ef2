"""Fine-tuning a user's writing twin: dataset snapshots, Ray Train SFT with LoRA, evaluation, registry."""
