import secrets

from django.db import migrations


def move_claims(apps, schema_editor):
    """Domain claims move to organizations (orgs.DomainClaim) and are verified by DNS from now
    on: every existing claim arrives pending, with its own token, and routes nobody until its
    TXT record is found (or an operator runs `manage.py sso_domain_verify`)."""
    SsoDomain = apps.get_model("sso", "SsoDomain")
    DomainClaim = apps.get_model("orgs", "DomainClaim")
    DomainClaim.objects.bulk_create(
        [
            DomainClaim(org_id=org_id, domain=domain, token=secrets.token_urlsafe(24))
            for org_id, domain in SsoDomain.objects.values_list("org_id", "domain")
        ],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("sso", "0001_initial"),
        ("orgs", "0005_domain_claims"),
    ]

    operations = [
        migrations.RunPython(move_claims, migrations.RunPython.noop),
        migrations.DeleteModel(name="SsoDomain"),
    ]
