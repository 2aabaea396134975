# A launch template with the options Terraform users set (IMDS, protections, shutdown
# behaviour, block devices, credits, an instance profile, an interface with groups) and an
# instance launched from it: tests/aws/test_terraform.py checks a second plan is empty.

variable "endpoint" {
  type = string
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

data "aws_ssm_parameter" "base_image" {
  name = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
}

data "aws_vpc" "default" {
  default = true
}

resource "aws_security_group" "web" {
  name        = "template-web"
  description = "reached through the template's interface"
  vpc_id      = data.aws_vpc.default.id
}

resource "aws_launch_template" "options" {
  name          = "options-template"
  image_id      = data.aws_ssm_parameter.base_image.value
  instance_type = "t3.micro"

  disable_api_termination              = false
  instance_initiated_shutdown_behavior = "terminate"

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "optional"
    http_put_response_hop_limit = 3
  }

  credit_specification {
    cpu_credits = "standard"
  }

  iam_instance_profile {
    name = "exercise-profile"
  }

  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size           = 16
      volume_type           = "gp3"
      delete_on_termination = true
    }
  }

  network_interfaces {
    device_index                = 0
    associate_public_ip_address = true
    security_groups             = [aws_security_group.web.id]
  }
}

resource "aws_instance" "from_template" {
  launch_template {
    id      = aws_launch_template.options.id
    version = aws_launch_template.options.latest_version
  }
}

output "instance_id" {
  value = aws_instance.from_template.id
}

output "security_group_id" {
  value = aws_security_group.web.id
}
