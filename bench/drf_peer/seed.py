"""`python -m bench.drf_peer.seed USERS`: migrate the peer's database, make USERS users with one
DRF token each (DRF keeps one per user), and print the first user's token key."""

import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.drf_peer.settings")


def main() -> None:
    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    call_command("migrate", verbosity=0)
    users = int(sys.argv[1])
    User.objects.bulk_create(
        User(
            username=f"user{n}", email=f"user{n}@peer.example", first_name="Peer", last_name=str(n)
        )
        for n in range(users)
    )
    Token.objects.bulk_create(
        Token(key=Token.generate_key(), user=user) for user in User.objects.order_by("id")
    )
    print(Token.objects.order_by("user_id").first().key)


if __name__ == "__main__":
    main()
