"""Sends the mail of auth.outbox: at start and on every NOTIFY auth_outbox, claims the pending rows
one at a time, sends each by SMTP and marks it consumed (which erases its token), one transaction
per row. A row whose send fails stays pending, retried at the next notification (or start); a lost
database connection ends the program: run it under a supervisor that restarts it. It never prints
a token. Python 3 with psycopg 3 (Debian: python3-psycopg)."""
import os
import smtplib
from email.message import EmailMessage

import psycopg

DSN = os.environ.get("MAILER_DSN", "")  # empty: libpq's PGHOST, PGUSER... variables
SMTP_HOST = os.environ.get("SMTP_HOST", "localhost")
SMTP_PORT = int(os.environ.get("SMTP_PORT", "25"))
MAIL_FROM = os.environ.get("MAIL_FROM", "accounts@localhost")
LINK = os.environ.get("MAILER_LINK", "http://localhost:8080/account")  # LINK/<kind>#token=<token>
SUBJECTS = {"password_reset": "Reset your password", "email_verification": "Confirm your email address"}
CLAIM = """SELECT id, kind, username, email, token, expires_at FROM auth.outbox
           WHERE NOT consumed AND expires_at > now() AND id <> ALL (%s)
           ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"""


def send_pending(db):
    failed = []  # rows whose send failed in this pass: left pending
    while True:
        with db.transaction():
            row = db.execute(CLAIM, (failed,)).fetchone()
            if row is None:
                return
            row_id, kind, username, email, token, expires_at = row
            if email:  # a reset for a user without an address: consumed unsent
                msg = EmailMessage()
                msg["From"], msg["To"], msg["Subject"] = MAIL_FROM, email, SUBJECTS[kind]
                msg.set_content(f"Hello {username},\n\n{LINK}/{kind}#token={token}\n\n"
                                f"The link works once, until {expires_at:%Y-%m-%d %H:%M %Z}.\n")
                try:
                    with smtplib.SMTP(SMTP_HOST, SMTP_PORT, timeout=30) as smtp:
                        smtp.send_message(msg)
                except (OSError, smtplib.SMTPException) as e:  # the class only: no message text
                    print(f"outbox row {row_id} ({kind}): not sent ({type(e).__name__})", flush=True)
                    failed.append(row_id)
                    continue
            db.execute("UPDATE auth.outbox SET consumed = true WHERE id = %s", (row_id,))
        print(f"outbox row {row_id} ({kind}): {'sent' if email else 'no address'}", flush=True)


# Two connections: the listener runs no query after LISTEN, so none can swallow a notification.
with psycopg.connect(DSN, autocommit=True) as listener, psycopg.connect(DSN, autocommit=True) as db:
    listener.execute("LISTEN auth_outbox")
    send_pending(db)
    for _ in listener.notifies():
        send_pending(db)
