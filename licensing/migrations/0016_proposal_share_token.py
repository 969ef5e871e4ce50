from django.db import migrations, models


def from_the_share_offers(apps, schema_editor):
    """The share token of each proposal opened before the field: its share class's contract."""
    Proposal = apps.get_model("licensing", "Proposal")
    ChainOffer = apps.get_model("licensing", "ChainOffer")
    for proposal in Proposal.objects.filter(share_token=""):
        offer = ChainOffer.objects.filter(
            network_id=proposal.network_id, token_id=proposal.share_token_id, kind=3
        ).first()
        if offer is not None:
            Proposal.objects.filter(pk=proposal.pk).update(share_token=offer.token_address)


class Migration(migrations.Migration):
    dependencies = [("licensing", "0015_governance")]

    operations = [
        migrations.AddField(
            model_name="proposal",
            name="share_token",
            field=models.CharField(
                default="",
                editable=False,
                help_text="The shares' ERC-1155 contract at the snapshot.",
                max_length=42,
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="historicalproposal",
            name="share_token",
            field=models.CharField(
                default="",
                editable=False,
                help_text="The shares' ERC-1155 contract at the snapshot.",
                max_length=42,
            ),
            preserve_default=False,
        ),
        migrations.RunPython(from_the_share_offers, migrations.RunPython.noop),
    ]
