# An instance of the lab's exercise-instance with an image made from it, and a VPC of
# its own with a subnet: what tests/aws/test_terraform.py applies beside the lab stack.

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

resource "aws_vpc" "lab" {
  cidr_block           = "10.40.0.0/16"
  enable_dns_hostnames = true
  tags = {
    Name = "lab"
  }
}

resource "aws_subnet" "lab" {
  vpc_id            = aws_vpc.lab.id
  cidr_block        = "10.40.1.0/24"
  availability_zone = "us-east-1a"
}

# Subnets use their VPC's main route table implicitly (no association of their own,
# in AWS too), so it is found by VPC and `association.main`.
data "aws_route_table" "lab" {
  vpc_id = aws_vpc.lab.id
  filter {
    name   = "association.main"
    values = ["true"]
  }
  depends_on = [aws_subnet.lab]
}

resource "aws_security_group" "app" {
  name        = "app"
  description = "the lab app"
  vpc_id      = aws_vpc.lab.id

  ingress {
    protocol    = "tcp"
    from_port   = 3000
    to_port     = 3000
    cidr_blocks = ["0.0.0.0/0"]
  }

  egress {
    protocol    = "-1"
    from_port   = 0
    to_port     = 0
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_instance" "exercise" {
  ami                                  = data.aws_ssm_parameter.base_image.value
  instance_type                        = "t2.micro"
  subnet_id                            = aws_subnet.lab.id
  vpc_security_group_ids               = [aws_security_group.app.id]
  user_data                            = file("${path.module}/../lab/setup.sh")
  instance_initiated_shutdown_behavior = "stop"
  tags = {
    Name = "exercise-instance"
  }
}

resource "aws_ami_from_instance" "exercise" {
  name               = "exercise-image"
  source_instance_id = aws_instance.exercise.id
}

output "instance_id" {
  value = aws_instance.exercise.id
}

output "image_id" {
  value = aws_ami_from_instance.exercise.id
}

output "route_table_id" {
  value = data.aws_route_table.lab.id
}
