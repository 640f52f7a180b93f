import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('core', '0004_organization_site_organization'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='DailyReview',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('business_date', models.DateField()),
                ('reviewed_by_name', models.CharField(max_length=150)),
                ('reviewed_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('note', models.CharField(blank=True, max_length=500)),
                ('reviewed_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.site')),
            ],
            options={
                'ordering': ['-reviewed_at', '-id'],
                'indexes': [models.Index(fields=['site', 'business_date'], name='dailyreview_site_date')],
            },
        ),
        migrations.CreateModel(
            name='DailyReport',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('code', models.CharField(choices=[('dispensing', 'Dispensing report'), ('controlled', 'Controlled-substance log'), ('inventory_movement', 'Inventory movement'), ('claims_summary', 'Claims summary'), ('will_call_aging', 'Will-call aging'), ('expiring_stock', 'Expiring stock'), ('interventions', 'Interventions')], max_length=24)),
                ('business_date', models.DateField()),
                ('version', models.PositiveSmallIntegerField(default=1)),
                ('title', models.CharField(max_length=120)),
                ('generated_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('generated_by_name', models.CharField(help_text="'system' for cron runs", max_length=150)),
                ('row_count', models.PositiveIntegerField(default=0)),
                ('has_phi', models.BooleanField(default=False, help_text='Names patients.')),
                ('data', models.JSONField(default=dict, help_text='Columns, rows, totals and notes.')),
                ('csv_text', models.TextField()),
                ('csv_sha256', models.CharField(max_length=64)),
                ('pdf', models.BinaryField()),
                ('pdf_sha256', models.CharField(max_length=64)),
                ('generated_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.site')),
                ('review', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='reports', to='reports.dailyreview')),
            ],
            options={
                'ordering': ['business_date', 'code', 'version'],
                'indexes': [models.Index(fields=['site', 'business_date'], name='dailyreport_site_date')],
                'constraints': [models.UniqueConstraint(fields=('site', 'code', 'business_date', 'version'), name='dailyreport_unique'), models.CheckConstraint(condition=models.Q(('version__gte', 1)), name='dailyreport_version'), models.CheckConstraint(condition=models.Q(('code__in', ['dispensing', 'controlled', 'inventory_movement', 'claims_summary', 'will_call_aging', 'expiring_stock', 'interventions'])), name='dailyreport_code'), models.CheckConstraint(condition=models.Q(('csv_sha256__regex', '^[0-9a-f]{64}$'), ('pdf_sha256__regex', '^[0-9a-f]{64}$')), name='dailyreport_sha256')],
            },
        ),
    ]
