from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """A CharField that accepts JSON strings only: numbers, lists and objects (such as MongoDB
    operators like `{"$ne": null}`) are refused instead of being coerced to text."""

    default_error_messages = {"invalid": "Must be a string.", "null_char": "Must not contain NUL."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        if "\x00" in data:
            self.fail("null_char")
        # The length as sent, before trimming, as the schema's `maxLength` counts it: a value the
        # schema refuses is refused, however much whitespace surrounds it.
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length, length=len(data))
        return super().to_internal_value(data)
