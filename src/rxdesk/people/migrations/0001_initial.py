import django.db.models.deletion
import django.utils.timezone
from decimal import Decimal
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
            name='Skill',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('code', models.CharField(max_length=20)),
                ('name', models.CharField(max_length=120)),
                ('category', models.CharField(choices=[('sterile', 'Sterile compounding'), ('nonsterile', 'Non-sterile compounding'), ('hazardous', 'Hazardous drugs'), ('automation', 'Automation equipment'), ('controlled', 'Controlled substances'), ('pos', 'Point of sale'), ('immunization', 'Immunization'), ('other', 'Other')], max_length=20)),
                ('renew_months', models.PositiveSmallIntegerField(default=12)),
                ('active', models.BooleanField(default=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.site')),
            ],
            options={
                'ordering': ['category', 'name'],
                'constraints': [models.UniqueConstraint(fields=('site', 'code'), name='ppl_skill_code'), models.CheckConstraint(condition=models.Q(('renew_months__lte', 120)), name='ppl_skill_months')],
            },
        ),
        migrations.CreateModel(
            name='CompetencyAssessment',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('assessor_name', models.CharField(max_length=150)),
                ('assessed_on', models.DateField()),
                ('method', models.CharField(choices=[('observation', 'Direct observation'), ('written', 'Written test'), ('demonstration', 'Demonstration'), ('media_fill', 'Media fill'), ('gloved_fingertip', 'Gloved fingertip sampling'), ('simulation', 'Simulation')], max_length=20)),
                ('result', models.CharField(choices=[('pass', 'Pass'), ('fail', 'Fail'), ('retrain', 'Needs retraining')], max_length=10)),
                ('score', models.DecimalField(blank=True, decimal_places=2, max_digits=5, null=True)),
                ('next_due', models.DateField(blank=True, null=True)),
                ('notes', models.TextField(blank=True, max_length=2000)),
                ('recorded_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('assessor', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('person', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='assessments', to=settings.AUTH_USER_MODEL)),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.site')),
                ('skill', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='assessments', to='people.skill')),
            ],
            options={
                'ordering': ['-assessed_on', '-pk'],
                'indexes': [models.Index(fields=['person', 'skill', 'assessed_on'], name='ppl_assess')],
                'constraints': [models.CheckConstraint(condition=models.Q(('assessor', models.F('person')), _negated=True), name='ppl_assess_not_self'), models.CheckConstraint(condition=models.Q(('score__isnull', True), models.Q(('score__gte', 0), ('score__lte', 100)), _connector='OR'), name='ppl_assess_score'), models.CheckConstraint(condition=models.Q(('result', 'pass'), ('next_due__isnull', True), _connector='OR'), name='ppl_assess_due_pass')],
            },
        ),
        migrations.CreateModel(
            name='TrainingPlan',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('title', models.CharField(max_length=120)),
                ('started_on', models.DateField()),
                ('due_on', models.DateField()),
                ('status', models.CharField(choices=[('open', 'In progress'), ('completed', 'Completed')], default='open', max_length=10)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('completed_on', models.DateField(blank=True, null=True)),
                ('created_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.site')),
                ('trainee', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='training_plans', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['-started_on', '-pk'],
                'constraints': [models.CheckConstraint(condition=models.Q(('due_on__gte', models.F('started_on'))), name='ppl_plan_dates')],
            },
        ),
        migrations.CreateModel(
            name='TrainingPlanItem',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('due_on', models.DateField()),
                ('completed_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='people.competencyassessment')),
                ('plan', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='items', to='people.trainingplan')),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.site')),
                ('skill', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='people.skill')),
            ],
            options={
                'ordering': ['due_on', 'pk'],
                'constraints': [models.UniqueConstraint(fields=('plan', 'skill'), name='ppl_plan_item_skill')],
            },
        ),
        migrations.CreateModel(
            name='ContinuingEducation',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('provider', models.CharField(max_length=120)),
                ('title', models.CharField(max_length=200)),
                ('uan', models.CharField(blank=True, max_length=22, verbose_name='ACPE UAN')),
                ('topic', models.CharField(max_length=2)),
                ('completed_on', models.DateField()),
                ('hours', models.DecimalField(decimal_places=2, max_digits=5)),
                ('certificate_number', models.CharField(blank=True, max_length=60)),
                ('status', models.CharField(choices=[('active', 'On file'), ('entered_in_error', 'Entered in error')], default='active', max_length=20)),
                ('error_reason', models.CharField(blank=True, max_length=300)),
                ('recorded_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('person', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='ce_credits', to=settings.AUTH_USER_MODEL)),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.site')),
            ],
            options={
                'verbose_name_plural': 'continuing education',
                'ordering': ['-completed_on', '-pk'],
                'constraints': [models.CheckConstraint(condition=models.Q(('hours__gt', 0), ('hours__lte', 100)), name='ppl_ce_hours'), models.UniqueConstraint(condition=models.Q(('status', 'active'), models.Q(('uan', ''), _negated=True)), fields=('person', 'uan'), name='ppl_ce_uan_once')],
            },
        ),
        migrations.CreateModel(
            name='PeopleSettings',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('alert_window_days', models.PositiveSmallIntegerField(default=60)),
                ('tech_ce_hours', models.DecimalField(decimal_places=2, default=Decimal('20'), max_digits=5)),
                ('tech_ce_law_hours', models.DecimalField(decimal_places=2, default=Decimal('1'), max_digits=5)),
                ('tech_ce_safety_hours', models.DecimalField(decimal_places=2, default=Decimal('1'), max_digits=5)),
                ('tech_cycle_months', models.PositiveSmallIntegerField(default=24)),
                ('rph_ce_hours', models.DecimalField(decimal_places=2, default=Decimal('30'), max_digits=5)),
                ('rph_ce_law_hours', models.DecimalField(decimal_places=2, default=Decimal('2'), max_digits=5)),
                ('rph_ce_safety_hours', models.DecimalField(decimal_places=2, default=Decimal('1'), max_digits=5)),
                ('rph_cycle_months', models.PositiveSmallIntegerField(default=24)),
                ('updated_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('site', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='people_settings', to='core.site')),
                ('updated_by', models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'constraints': [models.CheckConstraint(condition=models.Q(('alert_window_days__gte', 1), ('alert_window_days__lte', 365)), name='ppl_settings_window'), models.CheckConstraint(condition=models.Q(('tech_cycle_months__gte', 1), ('tech_cycle_months__lte', 60), ('rph_cycle_months__gte', 1), ('rph_cycle_months__lte', 60)), name='ppl_settings_cycle'), models.CheckConstraint(condition=models.Q(('tech_ce_hours__gte', 0), ('tech_ce_law_hours__gte', 0), ('rph_ce_hours__gte', 0), ('tech_ce_safety_hours__gte', 0), ('rph_ce_law_hours__gte', 0), ('rph_ce_safety_hours__gte', 0)), name='ppl_settings_hours')],
            },
        ),
        migrations.CreateModel(
            name='PreceptorshipEntry',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('on', models.DateField()),
                ('hours', models.DecimalField(decimal_places=2, max_digits=4)),
                ('activities', models.TextField(max_length=2000)),
                ('logged_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('signed_at', models.DateTimeField(blank=True, null=True)),
                ('logged_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('preceptor', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.site')),
                ('trainee', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='precepted', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name_plural': 'preceptorship entries',
                'ordering': ['-on', '-pk'],
                'constraints': [models.CheckConstraint(condition=models.Q(('hours__gt', 0), ('hours__lte', 24)), name='ppl_precept_hours'), models.CheckConstraint(condition=models.Q(('preceptor', models.F('trainee')), _negated=True), name='ppl_precept_not_self')],
            },
        ),
    ]
