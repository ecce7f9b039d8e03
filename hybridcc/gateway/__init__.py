"""A team gateway on LiteLLM's proxy (issue 18, part 2).

hybridcc does not grow its own shared server: it writes LiteLLM's proxy config from its own
providers and profiles (:mod:`.litellm_config`), runs and supervises ``litellm`` instances
(:mod:`.supervise`), creates virtual keys through LiteLLM's key API (:mod:`.keys`) and adds
developer profiles that point at the gateway with a fallback chain (:mod:`.team`).

LiteLLM runs from its own install (its pinned dependencies conflict with ours): found with
``--litellm PATH``, ``$HYBRIDCC_LITELLM`` or ``litellm`` on PATH.
"""
