"""Secret redaction before a prompt leaves the machine: a table of secret shapes that must
be replaced, one of harmless look-alikes that must survive unchanged, and chat messages.

The secrets are made up (AWS's documented examples, repeated characters); the prefixes are
spelled out in pieces so this file does not itself look like a leaked credential.
"""

from __future__ import annotations

import time

import pytest

from codehearth.models.redact import REDACTED, RevealingStream, SecretMask, redact_secrets

AWS_KEY_ID = "AKIA" + "IOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
GITHUB_TOKEN = "ghp" + "_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
OPENAI_KEY = "sk-" + "proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7cDe0f"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n"
    "-----END RSA PRIVATE KEY-----"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(f'key_id = "{AWS_KEY_ID}"', f'key_id = "{REDACTED}"', id="aws-key-id"),
        pytest.param("ASIA" + "Y34FZKBOKMUTVV7A", REDACTED, id="aws-temporary-key-id"),
        pytest.param(
            f"aws_secret_access_key = {AWS_SECRET}",
            f"aws_secret_access_key = {REDACTED}",
            id="aws-secret-ini",
        ),
        pytest.param(
            f'"SecretAccessKey": "{AWS_SECRET}"',
            f'"SecretAccessKey": "{REDACTED}"',
            id="aws-secret-json",
        ),
        pytest.param(f"key = '''\n{PEM}\n'''", f"key = '''\n{REDACTED}\n'''", id="pem-block"),
        pytest.param(
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9u",
            REDACTED,
            id="pem-cut-off-by-the-budget",
        ),
        pytest.param(
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBF\n-----END PGP PRIVATE KEY BLOCK-----",
            REDACTED,
            id="pgp-block",
        ),
        pytest.param(f"git clone https://{GITHUB_TOKEN}@github.com/a/b", None, id="github-ghp"),
        pytest.param("gho" + "_" + "Z" * 36, REDACTED, id="github-oauth"),
        pytest.param(
            "github_pat" + "_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123",
            REDACTED,
            id="github-fine-grained",
        ),
        pytest.param("xox" + "b-1234567890-0987654321-AbCdEfGhIjKl", REDACTED, id="slack-bot"),
        pytest.param("xox" + "p-1234567890-abcdefghijkl", REDACTED, id="slack-user"),
        pytest.param(f"client = OpenAI(api_key={OPENAI_KEY!r})", None, id="openai-project-key"),
        pytest.param("sk-" + "a1" * 24, REDACTED, id="openai-legacy-key"),
        pytest.param(
            "const maps = 'AIza" + "SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q';",
            f"const maps = '{REDACTED}';",
            id="google-api-key",
        ),
        pytest.param(f"Cookie: session={JWT}", f"Cookie: session={REDACTED}", id="jwt"),
        pytest.param(
            "Authorization: Bearer 4f9c2a7e1b3d5f7a9c1e3b5d",
            f"Authorization: Bearer {REDACTED}",
            id="bearer-token",
        ),
        pytest.param(
            "//registry.npmjs.org/:_authToken=npm_AbCdEf0123456789",
            f"//registry.npmjs.org/:_authToken={REDACTED}",
            id="npm-auth-token",
        ),
        pytest.param('db_password = "hunter2!"', f'db_password = "{REDACTED}"', id="password"),
        pytest.param(
            "SECRET_KEY = 'django-insecure-x7#k2'", f"SECRET_KEY = '{REDACTED}'", id="secret-key"
        ),
        pytest.param('"apiKey": "abcd1234"', f'"apiKey": "{REDACTED}"', id="json-api-key"),
        pytest.param(
            "password: str = 'correct horse battery'",
            f"password: str = '{REDACTED}'",
            id="annotated-default",
        ),
        pytest.param('token := "tok-9f8e7d"', f'token := "{REDACTED}"', id="go-short-assign"),
        pytest.param(
            "'client_secret' => 'abc-123-xyz'", f"'client_secret' => '{REDACTED}'", id="php-array"
        ),
        pytest.param(
            'config["password"] = "p4ssw0rd"', f'config["password"] = "{REDACTED}"', id="subscript"
        ),
        pytest.param('password = "it\'s mine"', f'password = "{REDACTED}"', id="inner-quote"),
        pytest.param(
            "export GITHUB_TOKEN=abc123xyz", f"export GITHUB_TOKEN={REDACTED}", id="env-export"
        ),
        pytest.param("DB_PASSWORD=hunter2", f"DB_PASSWORD={REDACTED}", id="env-line"),
    ],
)
def test_each_secret_shape_is_redacted_once(text: str, expected: str | None) -> None:
    redacted, count = redact_secrets(text)
    assert count == 1
    assert REDACTED in redacted
    if expected is not None:
        assert redacted == expected
    for secret in (AWS_KEY_ID, AWS_SECRET, GITHUB_TOKEN, OPENAI_KEY, JWT, "MIIEowIBAAKCAQEA"):
        assert secret not in redacted


@pytest.mark.parametrize(
    "text",
    [
        pytest.param('password = ""', id="empty-password"),
        pytest.param("password = os.environ['DB_PASSWORD']", id="password-from-environment"),
        pytest.param('password = input("Password: ")', id="password-prompt"),
        pytest.param("def login(user: str, password: str) -> bool:", id="annotation"),
        pytest.param('if token == "EOF":', id="comparison"),
        pytest.param('if password != "":', id="inequality"),
        pytest.param('token_type = "Bearer"', id="name-not-ending-in-secret-word"),
        pytest.param('secret_name = "db-password"', id="secret-name"),
        pytest.param('max_tokens = "1024"', id="plural-tokens"),
        pytest.param('log.info("token=%s", token)', id="format-string"),
        pytest.param('api_key = "${OPENAI_API_KEY}"', id="env-reference"),
        pytest.param("api_key: '{{ vault_api_key }}'", id="template-reference"),
        pytest.param('password = "<your-password>"', id="placeholder"),
        pytest.param("PASSWORD=$DB_PASS", id="shell-reference"),
        pytest.param("//registry.npmjs.org/:_authToken=${NPM_TOKEN}", id="npm-reference"),
        pytest.param('<input type="password" name="password">', id="html-form"),
        pytest.param("from sklearn import sk-learn-compatible-estimator-interface", id="sk-words"),
        pytest.param("risk-assessment-for-the-quarterly-report-2024", id="sk-inside-a-word"),
        pytest.param("Tokens start with ghp_ and are 40 characters long.", id="ghp-prefix-prose"),
        pytest.param("xoxo-hugs-and-kisses-from-me", id="xoxo"),
        pytest.param("AKIA is the prefix of an access key id", id="akia-prose"),
        pytest.param("MAKIAIOSFODNN7EXAMPLEX", id="akia-inside-a-word"),
        pytest.param("the Bearer token is sent on every request", id="bearer-prose"),
        pytest.param("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----", id="cert"),
        pytest.param("-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----", id="public"),
        pytest.param("sha = 'a94a8fe5ccb19ba61c4c0873d391e987982fbbd3'", id="git-sha"),
        pytest.param("uuid = '123e4567-e89b-12d3-a456-426614174000'", id="uuid"),
        pytest.param("def tokenize(text: str) -> list[str]:", id="tokenize"),
    ],
)
def test_harmless_look_alikes_survive(text: str) -> None:
    assert redact_secrets(text) == (text, 0)


def test_every_secret_is_counted_and_the_code_around_them_kept() -> None:
    text = (
        "import boto3\n"
        f"client = boto3.client('s3', aws_access_key_id='{AWS_KEY_ID}',\n"
        f"    aws_secret_access_key='{AWS_SECRET}')\n"
        f"headers = {{'Authorization': 'token {GITHUB_TOKEN}'}}\n"
    )
    redacted, count = redact_secrets(text)
    assert count == 3
    assert redacted == (
        "import boto3\n"
        f"client = boto3.client('s3', aws_access_key_id='{REDACTED}',\n"
        f"    aws_secret_access_key='{REDACTED}')\n"
        f"headers = {{'Authorization': 'token {REDACTED}'}}\n"
    )


def test_a_secret_matched_by_two_rules_counts_once() -> None:
    # The sk- rule and the api_key assignment rule both match the same value.
    assert redact_secrets(f'OPENAI_API_KEY = "{OPENAI_KEY}"') == (
        f'OPENAI_API_KEY = "{REDACTED}"',
        1,
    )


def test_hidden_messages_cover_content_parts_and_tool_calls() -> None:
    messages = [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": f"why does {AWS_KEY_ID} fail?"},
        {"role": "user", "content": [{"type": "text", "text": f"token {GITHUB_TOKEN}"}]},
        {
            "role": "assistant",
            "content": f"{AWS_KEY_ID} is valid",
            "tool_calls": [
                {"function": {"name": "archival_insert", "arguments": {"content": OPENAI_KEY}}}
            ],
        },
        {"role": "tool", "content": "stored"},
    ]
    original = repr(messages)
    mask = SecretMask()
    hidden = mask.hide_messages(messages)
    assert mask.count == 3
    assert repr(messages) == original  # the input is left alone
    assert hidden == [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "why does [REDACTED_1] fail?"},
        {"role": "user", "content": [{"type": "text", "text": "token [REDACTED_2]"}]},
        {
            "role": "assistant",
            "content": "[REDACTED_1] is valid",  # the same secret, the same placeholder
            "tool_calls": [
                {
                    "function": {
                        "name": "archival_insert",
                        "arguments": {"content": "[REDACTED_3]"},
                    }
                }
            ],
        },
        {"role": "tool", "content": "stored"},
    ]
    assert mask.reveal_value(hidden) == messages


def test_messages_without_secrets_come_back_equal() -> None:
    messages = [{"role": "user", "content": "hello", "images": None}]
    mask = SecretMask()
    assert mask.hide_messages(messages) == messages
    assert mask.count == 0


def test_a_placeholder_the_text_already_holds_is_not_reused_and_not_revealed() -> None:
    text = f'KEY = "{AWS_KEY_ID}"  # was "[REDACTED_1]" in the docs'
    mask = SecretMask()
    hidden = mask.hide(text)
    assert hidden == 'KEY = "[REDACTED_2]"  # was "[REDACTED_1]" in the docs'
    assert mask.reveal(hidden) == text


CODE_WITH_SECRETS = (
    f'AWS_ACCESS_KEY_ID = "{AWS_KEY_ID}"\nclient = connect(token="{GITHUB_TOKEN}")\n'
    "items = [1, 2][0]  # brackets that are not placeholders: [REDACTED [R\n"
)


@pytest.mark.parametrize(
    "piece_size",
    [pytest.param(size, id=f"pieces-of-{size}") for size in (1, 2, 3, 5, 11, 1000)],
)
def test_a_streamed_answer_gets_its_secrets_back_however_it_is_cut(piece_size: int) -> None:
    mask = SecretMask()
    answer = mask.hide(CODE_WITH_SECRETS)  # a model that repeats the code it was shown
    assert AWS_KEY_ID not in answer and GITHUB_TOKEN not in answer
    stream = RevealingStream(mask)
    pieces = [answer[i : i + piece_size] for i in range(0, len(answer), piece_size)]
    revealed = "".join(stream.feed(piece) for piece in pieces) + stream.flush()
    assert revealed == CODE_WITH_SECRETS


def test_a_stream_without_secrets_passes_pieces_through_untouched() -> None:
    stream = RevealingStream(SecretMask())
    assert [stream.feed(piece) for piece in ("x = [", "REDACTED_1", "]")] == [
        "x = [",
        "REDACTED_1",
        "]",
    ]
    assert stream.flush() == ""


def test_a_large_prompt_is_redacted_in_linear_time() -> None:
    # Long identifier runs and many near-misses must not make the patterns backtrack.
    text = ("a_" * 50_000) + " sk-" + "x" * 5_000 + " password" * 10_000 + "\n" * 1_000
    text += ("abcdefghij" * 20 + ".") * 2_000 + 'password = "' + "y" * 50_000
    started = time.perf_counter()
    assert redact_secrets(text) == (text, 0)
    assert time.perf_counter() - started < 2.0


def test_a_placeholder_written_in_another_message_is_never_given_to_a_secret() -> None:
    messages = [
        {"role": "user", "content": "the log shows [REDACTED_1] there"},
        {"role": "user", "content": f"key = {AWS_KEY_ID}"},
    ]
    mask = SecretMask()
    hidden = mask.hide_messages(messages)
    assert hidden[1]["content"] == "key = [REDACTED_2]"
    assert mask.reveal("quoted: [REDACTED_1]") == "quoted: [REDACTED_1]"
    assert mask.reveal("[REDACTED_2]") == AWS_KEY_ID


def test_roles_and_images_are_left_alone() -> None:
    image = "iVBORw0KGgo" + AWS_KEY_ID + "AAAA"  # base64 that happens to hold a key shape
    messages = [{"role": "user", "content": f"see {AWS_KEY_ID}", "images": [image]}]
    hidden = SecretMask().hide_messages(messages)
    assert hidden == [{"role": "user", "content": "see [REDACTED_1]", "images": [image]}]


@pytest.mark.parametrize(
    "clipped",
    [
        pytest.param(PEM.split("\n", 1)[1], id="begin-line-cut-off"),
        pytest.param("x = 1\n" + PEM.split("\n", 1)[1] + "\n", id="after-code"),
        pytest.param(PEM.split("\n", 1)[1].replace("\n", "\r\n"), id="crlf"),
    ],
)
def test_a_private_key_whose_begin_line_was_cut_off_is_redacted(clipped: str) -> None:
    redacted, count = redact_secrets(clipped)
    assert count == 1
    assert "MIIEowIBAAKCAQEA" not in redacted and "END RSA PRIVATE KEY" not in redacted
