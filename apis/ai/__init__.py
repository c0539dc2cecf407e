"""AI providers behind one OpenAI-compatible face: adapters, prices, prompts, the forward step."""
