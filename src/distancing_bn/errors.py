"""Exception and warning classes raised across the distancing_bn API.

The tree::

    DistancingBNError(Exception)
    ├── ModelError(ValueError)            a model file or network is wrong
    │   ├── ModelSyntaxError              the file is not valid YAML/XML (file, line, column)
    │   ├── ModelValidationError          the content is wrong (.problems lists all of them)
    │   └── ModelTooLargeError            compiling it would exceed the memory budget (.needed_bytes, …)
    ├── EvidenceError(ValueError)         answers given to a query are wrong
    │   ├── UnknownQuestionError          an answer names a question the model lacks
    │   ├── InvalidAnswerError            an answer label is not one of the question's answers
    │   └── ImpossibleEvidenceError       the answers together have probability zero
    └── DataError(ValueError)             a CSV / DataFrame / survey mapping is wrong (.row, .column)

    DistancingBNWarning(UserWarning)
    ├── NumericalWarning
    └── ModelWarning

This module imports nothing from the package.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "DataError",
    "DistancingBNError",
    "DistancingBNWarning",
    "EvidenceError",
    "ImpossibleEvidenceError",
    "InvalidAnswerError",
    "ModelError",
    "ModelSyntaxError",
    "ModelTooLargeError",
    "ModelValidationError",
    "ModelWarning",
    "NumericalWarning",
    "Problem",
    "UnknownQuestionError",
    "UnknownVariableError",
]


class DistancingBNError(Exception):
    """Base class of every error the package raises on purpose."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a model file: where it is and what is wrong."""

    message: str
    file: str | None = None
    line: int | None = None
    key_path: str | None = None

    def __str__(self) -> str:
        where = ""
        if self.file is not None:
            where = f"{self.file}:{self.line}" if self.line is not None else self.file
        if self.key_path:
            where = f"{where} {self.key_path}" if where else self.key_path
        return f"{where}: {self.message}" if where else self.message


class ModelError(DistancingBNError, ValueError):
    """A model file or network definition is wrong."""


class ModelSyntaxError(ModelError):
    """The model file cannot be parsed."""

    def __init__(
        self, message: str, *, file: str | None = None, line: int | None = None, column: int | None = None
    ) -> None:
        self.file, self.line, self.column = file, line, column
        where = file or "<model>"
        if line is not None:
            where += f":{line}"
            if column is not None:
                where += f":{column}"
        super().__init__(f"{where}: {message}")


class ModelValidationError(ModelError):
    """The model file parses but its content is wrong; ``problems`` lists every problem."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} in the model"
        super().__init__(head + ":\n" + "\n".join(f"  {p}" for p in self.problems))


class ModelTooLargeError(ModelError):
    """Compiling the model would need more memory than the budget allows; nothing was allocated.

    Attributes
    ----------
    needed_bytes
        The estimated memory of the compiled tables and junction tree (at least one evidence row).
    budget_bytes
        The budget it was checked against (``memory_budget``).
    largest_states
        The number of states of the largest table or clique.
    variables
        The variables of that table or clique.
    """

    def __init__(
        self,
        message: str,
        *,
        needed_bytes: int,
        budget_bytes: int,
        largest_states: int,
        variables: Sequence[str] = (),
    ) -> None:
        self.needed_bytes = needed_bytes
        self.budget_bytes = budget_bytes
        self.largest_states = largest_states
        self.variables = tuple(variables)
        super().__init__(message)


class EvidenceError(DistancingBNError, ValueError):
    """Answers given to a query are wrong."""


class UnknownQuestionError(EvidenceError, KeyError):
    """An answer names a question (or variable) the model does not have."""

    def __init__(self, message: str, *, question_id: str, suggestions: Sequence[str] = ()) -> None:
        self.question_id = question_id
        self.suggestions = tuple(suggestions)
        super().__init__(message)

    def __str__(self) -> str:  # KeyError would quote the message otherwise
        return str(self.args[0])


UnknownVariableError = UnknownQuestionError


class InvalidAnswerError(EvidenceError):
    """An answer label (or soft answer) is not valid for its question."""

    def __init__(self, message: str, *, question_id: str, got: object = None, valid: Sequence[str] = ()) -> None:
        self.question_id = question_id
        self.got = got
        self.valid = tuple(valid)
        super().__init__(message)


class ImpossibleEvidenceError(EvidenceError):
    """The answers together have probability zero under the model.

    ``answers`` lists every answered question; ``conflict`` the few of them that cannot hold
    together (what the message names: question ids only, never the answers given).
    """

    def __init__(self, message: str, *, answers: Sequence[str] = (), conflict: Sequence[str] = ()) -> None:
        self.answers = tuple(answers)
        self.conflict = tuple(conflict)
        super().__init__(message)


class DataError(DistancingBNError, ValueError):
    """A CSV file, DataFrame or survey mapping is wrong."""

    def __init__(
        self,
        message: str,
        *,
        row: int | None = None,
        column: str | None = None,
        file: str | None = None,
        line: int | None = None,
    ) -> None:
        self.row, self.column, self.file, self.line = row, column, file, line
        super().__init__(message)


class DistancingBNWarning(UserWarning):
    """Base class of the package's warnings."""


class NumericalWarning(DistancingBNWarning):
    """A computation lost precision."""


class ModelWarning(DistancingBNWarning):
    """A model is valid but has something worth a look."""
