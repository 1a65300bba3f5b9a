"""Process-level settings: one `Setting` per environment variable, read when asked for.

Per-run settings are `Context` fields (context.py). The settings here belong to the process (the
data stores, the tool servers, the sandbox, start-up, retries, the memory's lifecycle): each has
its variable, type, default and description, and is read from the environment at each access
(`SETTINGS.model_retries`), never at import. `check()` validates them all (with every Context).
`LIBRARY` lists the variables other programs own that memento passes on or reads.
"""

from __future__ import annotations

from typing import Any

from memento_graph.setting import Setting


class Settings:
    """The process-level settings; an attribute reads its variable now (`SETTINGS.max_cases`)."""

    # start-up, retries, errors
    debug = Setting("MEMENTO_DEBUG", "", "Any value shows tracebacks of unexpected errors.")
    model_retries = Setting(
        "MEMENTO_MODEL_RETRIES",
        4,
        "Attempts for a model call failing with 429, 5xx or a timeout (exponential backoff).",
        "positive",
    )
    retry_initial = Setting(
        "MEMENTO_RETRY_INITIAL", 0.5, "Seconds before the first retry.", "non-negative"
    )
    server_start_timeout = Setting(
        "MEMENTO_SERVER_START_TIMEOUT",
        30.0,
        "Seconds an MCP server may take to start before it is skipped.",
        "positive",
    )
    studio_start_timeout = Setting(
        "MEMENTO_STUDIO_START_TIMEOUT",
        90.0,
        "Seconds `memento studio` waits for `langgraph dev` to answer.",
        "positive",
    )
    trace_flush_timeout = Setting(
        "MEMENTO_TRACE_FLUSH_TIMEOUT",
        5.0,
        "Most seconds spent sending traces at exit.",
        "non-negative",
    )
    # stores
    checkpoint_url = Setting(
        "MEMENTO_CHECKPOINT_URL",
        "",
        "`postgresql://...`: threads in PostgreSQL instead of `<home>/threads.sqlite`.",
    )
    experience_url = Setting(
        "MEMENTO_EXPERIENCE_URL",
        "",
        "`postgresql://...`: episodes and the learned policy's state in PostgreSQL, shared (and so "
        "the learning) by every process and machine using it; `sqlite`: `<home>/experience.sqlite`.",
        "store-url",
        shown="follows a PostgreSQL `MEMENTO_CHECKPOINT_URL`",
    )
    chroma_url = Setting(
        "MEMENTO_CHROMA_URL",
        "",
        "`http://host:port`: the case bank on a Chroma server instead of embedded.",
    )
    casebank_wait = Setting(
        "MEMENTO_CASEBANK_WAIT",
        30.0,
        "Seconds to wait for an embedded case bank held by another process.",
        "non-negative",
    )
    # memory lifecycle and the learned policy
    max_cases = Setting(
        "MEMENTO_MAX_CASES",
        20000,
        "Capacity of a user's case bank; the least useful cases are retired beyond it.",
        "positive",
    )
    near_duplicate = Setting(
        "MEMENTO_NEAR_DUPLICATE",
        0.95,
        "Cosine above which a new task updates the existing case instead of adding one.",
        "fraction",
    )
    quarantine_confidence = Setting(
        "MEMENTO_QUARANTINE_CONFIDENCE",
        0.8,
        "How sure the memory must be that a case does much worse than its peers before it "
        "quarantines it.",
        "fraction",
    )
    policy_exploration = Setting(
        "MEMENTO_POLICY_EXPLORATION",
        "thompson",
        "Exploration of the learned policy: `thompson`, `epsilon:0.1` or `greedy`.",
        choices=("thompson", "greedy", "epsilon"),
    )
    policy_seed: Setting[int | None] = Setting(
        "MEMENTO_POLICY_SEED",
        0,
        "Seed of the learned policy's exploration (reproducible runs); unset: no seed.",
        "non-negative",
        shown="unset",
        optional=True,
    )
    # the tool servers
    server_log_level = Setting(
        "MEMENTO_SERVER_LOG_LEVEL",
        "WARNING",
        "Log level of the built-in MCP servers.",
        choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
    )
    searxng_url = Setting(
        "SEARXNG_URL", "", "SearxNG instance of the `search` server (not offered without it)."
    )
    crawl_timeout = Setting(
        "MEMENTO_CRAWL_TIMEOUT", 30.0, "Seconds one crawl may take.", "positive"
    )
    crawl_max_bytes = Setting(
        "MEMENTO_CRAWL_MAX_BYTES",
        5 * 1024 * 1024,
        "Largest page (bytes) one crawl may fetch.",
        "positive",
    )
    crawl_browser = Setting(
        "MEMENTO_CRAWL_BROWSER",
        "",
        "Browser of crawl4ai's managed browser; `none` uses httpx + trafilatura only.",
        shown="chromium on PATH",
    )
    crawl_bm25_threshold = Setting(
        "MEMENTO_CRAWL_BM25_THRESHOLD",
        0.5,
        "Query-aware compression strength of the crawler.",
        "non-negative",
    )
    crawl_allow_private = Setting(
        "MEMENTO_CRAWL_ALLOW_PRIVATE",
        False,
        "Let the crawler fetch private and loopback addresses.",
    )
    code_backend = Setting(
        "MEMENTO_CODE_BACKEND",
        "",
        "`subprocess` (the local bubblewrap sandbox) or `e2b` (needs `E2B_API_KEY` and "
        "`pip install .[e2b]`); unset: e2b when `E2B_API_KEY` is set.",
        choices=("", "subprocess", "e2b"),
        shown="subprocess",
    )
    sandbox = Setting(
        "MEMENTO_SANDBOX",
        "",
        "`bwrap`: code runs in the bubblewrap sandbox or not at all; `unsafe-none`: code runs "
        "unsandboxed with the server's access to the machine (a warning with every result).",
        choices=("", "bwrap", "unsafe-none"),
        shown="bwrap",
    )
    sandbox_bwrap = Setting(
        "MEMENTO_SANDBOX_BWRAP", "", "The bubblewrap program.", shown="`bwrap` on PATH"
    )
    sandbox_timeout = Setting(
        "MEMENTO_SANDBOX_TIMEOUT", 30.0, "Seconds one code run may take.", "positive"
    )
    sandbox_memory_mb = Setting(
        "MEMENTO_SANDBOX_MEMORY_MB", 2048, "Memory limit (MB) of one code run.", "positive"
    )
    sandbox_nproc = Setting(
        "MEMENTO_SANDBOX_NPROC", 64, "Most processes of one code run.", "positive"
    )
    sandbox_fsize_mb = Setting(
        "MEMENTO_SANDBOX_FSIZE_MB",
        64,
        "Largest file (MB) one code run may write (the sandbox's `/tmp` holds as much).",
        "positive",
    )
    sandbox_network = Setting(
        "MEMENTO_SANDBOX_NETWORK",
        False,
        "Share the host's network with sandboxed code (off by default).",
    )
    media_timeout = Setting(
        "MEMENTO_MEDIA_TIMEOUT", 120.0, "Seconds one media call may take.", "positive"
    )
    vision_model = Setting(
        "MEMENTO_VISION_MODEL", "", "Vision model of the `media` server (not offered without)."
    )
    transcribe_model = Setting(
        "MEMENTO_TRANSCRIBE_MODEL",
        "",
        "Transcription model of the `media` server (not offered without).",
    )
    media_base_url = Setting(
        "MEMENTO_MEDIA_BASE_URL",
        "",
        "Endpoint of the media models.",
        shown="`OPENAI_BASE_URL`",
    )
    vision_base_url = Setting(
        "MEMENTO_VISION_BASE_URL",
        "",
        "Endpoint of the vision model.",
        shown="`MEMENTO_MEDIA_BASE_URL`",
    )
    transcribe_base_url = Setting(
        "MEMENTO_TRANSCRIBE_BASE_URL",
        "",
        "Endpoint of the transcription model.",
        shown="`MEMENTO_MEDIA_BASE_URL`",
    )
    media_api_key = Setting(
        "MEMENTO_MEDIA_API_KEY", "", "Key of the media models.", shown="`OPENAI_API_KEY`"
    )
    read_roots = Setting(
        "MEMENTO_READ_ROOTS",
        "",
        "Extra folders (`:`-separated) the document, spreadsheet and media tools may read.",
    )
    workspace = Setting(
        "MEMENTO_WORKSPACE",
        "",
        "Folder the code and file tools work in.",
        shown="`<home>/workspaces/<id>`",
    )
    roots_file = Setting(
        "MEMENTO_ROOTS_FILE",
        "",
        "File listing a task's input files the tools may read (set for the tool servers).",
        internal=True,
    )
    test_kill_at = Setting(
        "MEMENTO_TEST_KILL_AT",
        "",
        "Kill point of the durability tests (`point` or `point@n`, see killpoints.py).",
        internal=True,
    )

    @classmethod
    def all(cls) -> list[Setting[Any]]:
        """Return every setting, in the order of definition."""
        return [v for v in vars(cls).values() if isinstance(v, Setting)]

    def check(self) -> None:
        """Raise a MementoError naming the first setting whose value is not valid."""
        for setting in self.all():
            setting.read()


SETTINGS = Settings()

# Variables of other programs that memento reads or passes on (listed in the README's table).
LIBRARY: dict[str, str] = {
    "OPENAI_API_KEY": "Key of the OpenAI-compatible endpoint (required by the models).",
    "OPENAI_BASE_URL": "Endpoint of any OpenAI-compatible server (default OpenAI).",
    "E2B_API_KEY": "Key of e2b, the remote code backend.",
    "LANGSMITH_TRACING": "`true` (with `LANGSMITH_API_KEY`) traces runs in LangSmith.",
    "LANGSMITH_API_KEY": "LangSmith key.",
    "LANGSMITH_PROJECT": "LangSmith project.",
    "LANGSMITH_ENDPOINT": "Self-hosted LangSmith endpoint.",
    "CRAWL4_AI_BASE_DIRECTORY": "Folder of crawl4ai's own state (default the home folder).",
}
