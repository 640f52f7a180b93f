import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('catalog', '0004_product_cmea_product_cmea_base_mg'),
        ('core', '0004_organization_site_organization'),
        ('rx', '0007_fill_source_cycle'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='InterchangeProtocol',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=120)),
                ('from_ingredient', models.CharField(help_text='e.g. OMEPRAZOLE', max_length=200)),
                ('from_strength', models.CharField(blank=True, help_text='blank: any strength', max_length=60)),
                ('ratio', models.DecimalField(blank=True, decimal_places=4, max_digits=9, null=True)),
                ('conversions', models.JSONField(blank=True, default=list)),
                ('sig_note', models.CharField(blank=True, max_length=300)),
                ('notes', models.TextField(blank=True, help_text='Evidence, committee', max_length=4000)),
                ('status', models.CharField(choices=[('draft', 'Draft'), ('approved', 'Approved'), ('retired', 'Retired')], default='draft', max_length=10)),
                ('status_reason', models.CharField(blank=True, max_length=300)),
                ('approved_at', models.DateTimeField(blank=True, null=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('updated_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('approved_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('created_by', models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.site')),
                ('to_product', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='catalog.product')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('site', 'name'), name='interchange_protocol_name'), models.CheckConstraint(condition=models.Q(('status__in', ['draft', 'approved', 'retired'])), name='interchange_protocol_status'), models.CheckConstraint(condition=models.Q(('ratio__isnull', True), ('ratio__gt', 0), _connector='OR'), name='interchange_ratio_positive'), models.CheckConstraint(condition=models.Q(('status', 'draft'), models.Q(('approved_at__isnull', False), ('approved_by__isnull', False)), ('status', 'retired'), _connector='OR'), name='interchange_approved_by')],
            },
        ),
        migrations.CreateModel(
            name='InterchangeDecision',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('accepted', models.BooleanField()),
                ('note', models.CharField(blank=True, max_length=500)),
                ('conversion', models.CharField(blank=True, max_length=300)),
                ('prescriber_notified', models.CharField(blank=True, choices=[('', 'Not yet'), ('phone', 'Telephone'), ('fax', 'Fax'), ('electronic', 'Electronic message'), ('in_person', 'In person')], default='', max_length=12)),
                ('notified_at', models.DateTimeField(blank=True, null=True)),
                ('decided_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('decided_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('new_prescription', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='rx.prescription')),
                ('prescription', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='rx.prescription')),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.site')),
                ('suggested_product', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='catalog.product')),
                ('protocol', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='decisions', to='formulary.interchangeprotocol')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('prescription', 'protocol'), name='interchange_decided_once'), models.CheckConstraint(condition=models.Q(models.Q(('accepted', True), ('new_prescription__isnull', False)), models.Q(('accepted', False), ('new_prescription__isnull', True)), _connector='OR'), name='interchange_accepted_has_rx'), models.CheckConstraint(condition=models.Q(('accepted', True), models.Q(('note', ''), _negated=True), _connector='OR'), name='interchange_declined_reason'), models.CheckConstraint(condition=models.Q(('prescriber_notified', ''), ('notified_at__isnull', False), _connector='OR'), name='interchange_notified_when')],
            },
        ),
        migrations.CreateModel(
            name='FormularyEntry',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('status', models.CharField(choices=[('preferred', 'Preferred'), ('formulary', 'On formulary'), ('restricted', 'Restricted (criteria apply)'), ('non_formulary', 'Non-formulary')], max_length=16)),
                ('tier', models.PositiveSmallIntegerField(blank=True, null=True)),
                ('criteria', models.TextField(blank=True, max_length=1000)),
                ('notes', models.TextField(blank=True, max_length=2000)),
                ('effective_from', models.DateField(blank=True, null=True)),
                ('effective_to', models.DateField(blank=True, null=True)),
                ('updated_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('product', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='catalog.product')),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.site')),
                ('updated_by', models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'indexes': [models.Index(fields=['site', 'status'], name='formulary_site_status')],
                'constraints': [models.UniqueConstraint(fields=('site', 'product'), name='formulary_site_product'), models.CheckConstraint(condition=models.Q(('status__in', ['preferred', 'formulary', 'restricted', 'non_formulary'])), name='formulary_status'), models.CheckConstraint(condition=models.Q(models.Q(('status', 'restricted'), _negated=True), models.Q(('criteria', ''), _negated=True), _connector='OR'), name='formulary_restricted_criteria'), models.CheckConstraint(condition=models.Q(('tier__isnull', True), models.Q(('tier__gte', 1), ('tier__lte', 9)), _connector='OR'), name='formulary_tier_range'), models.CheckConstraint(condition=models.Q(('effective_from__isnull', True), ('effective_to__isnull', True), ('effective_to__gte', models.F('effective_from')), _connector='OR'), name='formulary_effective_order')],
            },
        ),
    ]
