"""lingualift: teach open language models new languages and make them strong translators."""

__version__ = "0.1.0"
