"""The demo source mirror: `synth` writes a fictional, seeded copy of a city's public sources
(docs/demo-mirror.md) and `server` serves such a folder on localhost for a real crawl."""
