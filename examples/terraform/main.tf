# The seed lab on Shoal with Terraform's hashicorp/aws provider: a launch template, the
# Auto Scaling group EXERCISE-GROUP behind exercise-lb, a target-tracking policy and an alarm.
#   terraform init && terraform apply -var endpoint=http://127.0.0.1:4566
#   curl -H "Host: $(terraform output -raw lb_dns_name)" http://127.0.0.1:4566/

variable "endpoint" {
  type    = string
  default = "http://127.0.0.1:4566"
}

variable "public_key" {
  type    = string
  default = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHIsjvjkFht2Ve7e1iNidzt/sJj4tFnUeej6NoEKMXLZ exercise"
}

provider "aws" {
  region     = "us-east-1"
  access_key = "test"
  secret_key = "test"

  skip_metadata_api_check = true
  skip_region_validation  = true

  endpoints {
    ec2         = var.endpoint
    autoscaling = var.endpoint
    elbv2       = var.endpoint
    cloudwatch  = var.endpoint
    sts         = var.endpoint
    iam         = var.endpoint
    ssm         = var.endpoint
  }
}

data "aws_vpc" "default" {
  default = true
}

data "aws_subnets" "default" {
  filter {
    name   = "vpc-id"
    values = [data.aws_vpc.default.id]
  }
  filter {
    name   = "availability-zone"
    values = ["us-east-1a", "us-east-1b"]
  }
}

# The default VPC's main route table and internet gateway (read-only in Shoal).
data "aws_route_table" "main" {
  vpc_id = data.aws_vpc.default.id
  filter {
    name   = "association.main"
    values = ["true"]
  }
}

data "aws_internet_gateway" "default" {
  filter {
    name   = "attachment.vpc-id"
    values = [data.aws_vpc.default.id]
  }
}

data "aws_ssm_parameter" "base_image" {
  name = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
}

resource "aws_security_group" "web" {
  name        = "web"
  description = "HTTP"
  vpc_id      = data.aws_vpc.default.id
}

resource "aws_vpc_security_group_ingress_rule" "web_app" {
  security_group_id = aws_security_group.web.id
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 3000
  to_port           = 3000
}

resource "aws_vpc_security_group_ingress_rule" "web_http" {
  security_group_id = aws_security_group.web.id
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
}

# Terraform removes the egress rule AWS gives a new group; the load balancer (in this
# group) connects to its targets through this one.
resource "aws_vpc_security_group_egress_rule" "web_out" {
  security_group_id = aws_security_group.web.id
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "-1"
}

resource "aws_security_group" "ssh" {
  name        = "ssh"
  description = "SSH"
  vpc_id      = data.aws_vpc.default.id

  ingress {
    protocol    = "tcp"
    from_port   = 22
    to_port     = 22
    cidr_blocks = ["0.0.0.0/0"]
  }

  egress {
    protocol    = "-1"
    from_port   = 0
    to_port     = 0
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_key_pair" "exercise" {
  key_name   = "exercise-key"
  public_key = var.public_key
}

resource "aws_launch_template" "exercise" {
  name                   = "exercise-launch-template"
  image_id               = data.aws_ssm_parameter.base_image.value
  instance_type          = "t2.micro"
  key_name               = aws_key_pair.exercise.key_name
  vpc_security_group_ids = [aws_security_group.web.id, aws_security_group.ssh.id]
  user_data              = filebase64("${path.module}/../lab/setup.sh")
}

resource "aws_lb_target_group" "exercise" {
  name                 = "exercise-target-group"
  protocol             = "HTTP"
  port                 = 3000
  vpc_id               = data.aws_vpc.default.id
  deregistration_delay = 2

  health_check {
    path                = "/health"
    interval            = 5
    timeout             = 4
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }
}

resource "aws_lb" "exercise" {
  name               = "exercise-lb"
  load_balancer_type = "application"
  subnets            = data.aws_subnets.default.ids
  security_groups    = [aws_security_group.web.id]
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.exercise.arn
  protocol          = "HTTP"
  port              = 80

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.exercise.arn
  }
}

resource "aws_lb_listener_rule" "health" {
  listener_arn = aws_lb_listener.http.arn
  priority     = 10

  condition {
    path_pattern {
      values = ["/health"]
    }
  }

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.exercise.arn
  }
}

resource "aws_autoscaling_group" "exercise" {
  name                      = "EXERCISE-GROUP"
  min_size                  = 1
  max_size                  = 2
  desired_capacity          = 1
  vpc_zone_identifier       = data.aws_subnets.default.ids
  target_group_arns         = [aws_lb_target_group.exercise.arn]
  health_check_type         = "ELB"
  health_check_grace_period = 0
  wait_for_capacity_timeout = "5m"
  wait_for_elb_capacity     = 1

  launch_template {
    id      = aws_launch_template.exercise.id
    version = "$Default"
  }

  tag {
    key                 = "Name"
    value               = "exercise-group"
    propagate_at_launch = true
  }
}

resource "aws_autoscaling_policy" "cpu" {
  name                   = "exercise-cpu-target"
  autoscaling_group_name = aws_autoscaling_group.exercise.name
  policy_type            = "TargetTrackingScaling"

  target_tracking_configuration {
    predefined_metric_specification {
      predefined_metric_type = "ASGAverageCPUUtilization"
    }
    target_value = 80
  }
}

resource "aws_cloudwatch_metric_alarm" "cpu_high" {
  alarm_name          = "exercise-cpu-high"
  namespace           = "AWS/EC2"
  metric_name         = "CPUUtilization"
  statistic           = "Average"
  period              = 60
  evaluation_periods  = 3
  threshold           = 90
  comparison_operator = "GreaterThanThreshold"
  dimensions = {
    AutoScalingGroupName = aws_autoscaling_group.exercise.name
  }
}

output "lb_dns_name" {
  value = aws_lb.exercise.dns_name
}

output "internet_gateway_id" {
  value = data.aws_internet_gateway.default.id
}

output "target_group_arn" {
  value = aws_lb_target_group.exercise.arn
}
