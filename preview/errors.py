"""Errors that end offline-preview with exit code 2: the program or the configuration is broken."""


class PreviewError(Exception):
    """A program, stack-config, policy-config or policy-pack error; never a pass."""


class StackConfigError(PreviewError):
    """Pulumi.yaml or Pulumi.<stack>.yaml is missing or malformed."""


class ProgramError(PreviewError):
    """The Pulumi program raised, or logged an error, while it ran."""

    def __init__(self, message: str, details: str = "", interpreter: str = "") -> None:
        super().__init__(message)
        self.details = details
        self.interpreter = interpreter


class PolicyConfigError(PreviewError):
    """The policy config file is malformed or fails a policy's config schema."""


class PolicyPackError(PreviewError):
    """The policy pack failed to start or failed a protocol call."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details


class InterpreterError(PreviewError):
    """The program's Python environment is missing, or its pulumi SDK cannot be driven: a tool/setup error,
    not the program's."""


class InvokeAnswersError(PreviewError):
    """The --invoke-answers file is missing or malformed."""
