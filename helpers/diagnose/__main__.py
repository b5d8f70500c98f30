"""``python -m helpers.diagnose``: print the README's list of codes, generated from the registry."""

from helpers.diagnose import readme_codes

print(readme_codes())
