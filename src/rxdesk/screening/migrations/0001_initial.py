import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('core', '0004_organization_site_organization'),
        ('rx', '0006_fill_step_sale_voided'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='KnowledgeSource',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key', models.SlugField(max_length=40, unique=True)),
                ('name', models.CharField(max_length=200)),
                ('citation', models.CharField(blank=True, max_length=500)),
                ('license', models.CharField(blank=True, max_length=200)),
                ('version', models.CharField(blank=True, max_length=40)),
                ('active', models.BooleanField(default=True)),
                ('imported_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
        ),
        migrations.CreateModel(
            name='InteractionRule',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('rule_id', models.CharField(max_length=40)),
                ('severity', models.CharField(choices=[('contraindicated', 'Contraindicated'), ('major', 'Major'), ('moderate', 'Moderate'), ('minor', 'Minor')], max_length=16)),
                ('object_label', models.CharField(max_length=200)),
                ('precipitant_label', models.CharField(max_length=200)),
                ('message', models.CharField(max_length=500)),
                ('consequence', models.CharField(blank=True, max_length=500)),
                ('action', models.CharField(blank=True, max_length=500)),
                ('active', models.BooleanField(default=True)),
                ('source', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='rules', to='screening.knowledgesource')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('source', 'rule_id'), name='interaction_rule_id')],
            },
        ),
        migrations.CreateModel(
            name='FillAlert',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key', models.CharField(max_length=200)),
                ('rule', models.CharField(help_text='source:rule, for the override report', max_length=80)),
                ('type', models.CharField(max_length=2, verbose_name='DUR reason for service')),
                ('severity', models.CharField(choices=[('contraindicated', 'Contraindicated'), ('major', 'Major'), ('moderate', 'Moderate'), ('minor', 'Minor')], max_length=16)),
                ('interrupting', models.BooleanField()),
                ('drugs', models.JSONField(default=list)),
                ('message', models.CharField(max_length=500)),
                ('consequence', models.CharField(blank=True, max_length=500)),
                ('action', models.CharField(blank=True, max_length=500)),
                ('source', models.CharField(max_length=200)),
                ('raised_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('resolved_at', models.DateTimeField(blank=True, null=True)),
                ('professional_service', models.CharField(blank=True, max_length=2)),
                ('result_of_service', models.CharField(blank=True, max_length=2)),
                ('note', models.CharField(blank=True, max_length=500)),
                ('fill', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='alerts', to='rx.fill')),
                ('resolved_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.site')),
            ],
            options={
                'indexes': [models.Index(fields=['site', 'rule'], name='fill_alert_rule'), models.Index(fields=['site', 'raised_at'], name='fill_alert_when')],
                'constraints': [models.UniqueConstraint(fields=('fill', 'key'), name='fill_alert_key')],
            },
        ),
        migrations.CreateModel(
            name='InteractionMember',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('side', models.CharField(choices=[('object', 'Object'), ('precipitant', 'Precipitant')], max_length=12)),
                ('term', models.CharField(help_text='generic name, or class:<key>', max_length=120)),
                ('rule', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='members', to='screening.interactionrule')),
            ],
            options={
                'indexes': [models.Index(fields=['term'], name='interaction_member_term')],
                'constraints': [models.UniqueConstraint(fields=('rule', 'side', 'term'), name='interaction_member')],
            },
        ),
    ]
