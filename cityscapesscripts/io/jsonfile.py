"""Reading JSON files with errors that name the file and the reason."""
import json


def read_json(path, error):
    """The parsed content of ``path``; raises ``error(reason, path)`` when unreadable or invalid."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as e:
        raise error(f"cannot read: {e.strerror}", path) from None
    except (ValueError, RecursionError) as e:  # RecursionError: nested too deeply
        raise error(f"not valid JSON: {e}", path) from None
