"""The real-model tier's budgets (environment of every run), also the tests' bounds."""

BUDGETS = {
    "MEMENTO_PLANNER_MAX_TOKENS": 256,
    "MEMENTO_EXECUTOR_MAX_TOKENS": 96,
    "MEMENTO_SYNTHESIZER_MAX_TOKENS": 48,
    "MEMENTO_JUDGE_MAX_TOKENS": 96,
    "MEMENTO_LESSON_MAX_TOKENS": 64,
    "MEMENTO_MAX_SUBTASKS": 2,
    "MEMENTO_MAX_CYCLES": 1,
    "MEMENTO_MAX_TOOL_CALLS": 2,
}
